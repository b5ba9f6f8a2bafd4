"""Quiet by default, ``-v`` for the library's log, and the elapsed-time indicator only on a terminal."""

from __future__ import annotations

import io
import re
import time

from aliyun_emulator.emulator import Emulator
from ram_delegate.cli import main
from ram_delegate.cli_output import Output


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_commands_are_quiet_by_default_and_log_with_v(aliyun_emulator: Emulator) -> None:
    owner, partner = aliyun_emulator.seed.accounts[:2]
    runs = []
    for account, side, flags in ((owner, "owner", []), (partner, "partner", ["-v"])):
        stdout, stderr = io.StringIO(), io.StringIO()
        env = {
            "ALIBABA_CLOUD_ACCESS_KEY_ID": account.access_key_id,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": account.access_key_secret,
        }
        argv = ["--endpoint", aliyun_emulator.endpoint, *flags, "bootstrap", "--side", side]
        runs.append((main(argv, env=env, stdout=stdout, stderr=stderr), stdout.getvalue(), stderr.getvalue()))
    (quiet_code, quiet_out, quiet_err), (loud_code, loud_out, loud_err) = runs
    assert (quiet_code, loud_code) == (0, 0)
    assert "CreateRole" in quiet_out  # both report what they did on stdout
    assert "CreateRole" in loud_out
    assert quiet_err == ""
    assert "INFO ram_delegate.bootstrap: bootstrap ram-delegate-partner: CreateRole" in loud_err
    assert partner.access_key_secret not in loud_err


def test_the_indicator_shows_label_and_elapsed_time_on_a_terminal_and_erases_itself() -> None:
    terminal = Terminal()
    with Output(json_mode=False, stderr=terminal).progress("sweeping owner grants"):
        time.sleep(0.35)
    drawn = terminal.getvalue()
    frames = re.findall(r"\rsweeping owner grants ([|/\\-]) (\d+\.\d)s", drawn)
    assert len(frames) >= 2
    assert [frame[0] for frame in frames[:2]] == ["|", "/"]  # the spinner turns
    assert 0.05 <= float(frames[0][1]) <= float(frames[-1][1]) <= 5.0
    assert drawn.endswith("\r\033[K")


def test_no_indicator_in_pipes_or_json_mode() -> None:
    pipe, terminal = io.StringIO(), Terminal()
    with Output(json_mode=False, stderr=pipe).progress("verifying grants"):
        time.sleep(0.25)
    with Output(json_mode=True, stderr=terminal).progress("verifying grants"):
        time.sleep(0.25)
    assert pipe.getvalue() == terminal.getvalue() == ""


def test_the_line_becomes_a_bar_with_counts_once_the_run_reports_them() -> None:
    terminal = Terminal()
    with Output(json_mode=False, stderr=terminal).progress("verifying grants") as progress:
        time.sleep(0.15)
        progress(250, 1000)
        time.sleep(0.25)
        progress(1000, 1000)
        time.sleep(0.25)
    drawn = terminal.getvalue()
    assert re.search(r"\rverifying grants \[######\.{18}\] 250/1000 \d+\.\ds", drawn)
    assert re.search(r"\rverifying grants \[#{24}\] 1000/1000 \d+\.\ds", drawn)
    assert drawn.index("250/1000") < drawn.index("1000/1000")
    assert drawn.endswith("\r\033[K")


def test_progress_reports_are_accepted_and_ignored_when_nothing_is_drawn() -> None:
    pipe = io.StringIO()
    with Output(json_mode=False, stderr=pipe).progress("sweeping owner grants") as progress:
        progress(1, 2)
    assert pipe.getvalue() == ""
