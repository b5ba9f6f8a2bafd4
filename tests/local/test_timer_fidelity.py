"""Timers run while the emulated cloud reads their due time, not the end of the clock move that fired them.

One clock move goes from a fresh grant to past its expiry. The hourly verifier fell due while the grant was active
(and old enough to have propagated), so it must observe the grant as allowed: the cloud evaluates the trust policy's
``acs:CurrentTime`` expiry at the verifier's due time. The five-minute sweeps in the same move run once, at their
latest due time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from local_support import approved_event, send_signed

from ram_delegate.local.stack import LocalStack

REPO = Path(__file__).resolve().parents[2]


def next_hour_after(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def test_an_hourly_verifier_due_before_the_expiry_sees_the_grant_allowed_in_a_move_that_ends_after_it() -> None:
    with LocalStack(template=REPO / "template.yml", env={}) as stack:
        hour = next_hour_after(stack.emulator.clock.now() + timedelta(minutes=15))  # the grant is >= 15 min old then
        expires_at = hour + timedelta(minutes=32)
        status, answer = send_signed(stack, approved_event(stack, "FID-1", expires_at=expires_at))
        assert status == 200, answer

        runs = stack.advance_clock((expires_at + timedelta(minutes=1) - stack.emulator.clock.now()).total_seconds())

        assert stack.emulator.clock.now() > expires_at
        by_function = {(run.function, run.due): run for run in runs}
        assert [(run.function, run.due) for run in runs] == sorted(by_function, key=lambda key: key[1])
        verifier = by_function[("ram-delegate-partner-verify", hour)]
        assert verifier.ok, verifier.error
        report = verifier.result
        assert (report["checked"], report["ok"], report["unexpected_deny"], report["pending"]) == (1, 1, 0, 0)
        sweep_time = expires_at - timedelta(minutes=2)  # the latest five-minute tick before the move's end
        assert [run.due for run in runs if run.function == "ram-delegate-owner-expire"] == [sweep_time]
        assert by_function[("ram-delegate-owner-expire", sweep_time)].result["revoked"] == []
