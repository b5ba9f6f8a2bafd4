"""The request path's shortcuts (done once instead of per request) give exactly what the slow path gave."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aliyun_emulator.core.errors import ApiError
from aliyun_emulator.core.signing import acs3_string_to_sign, parse_timestamp, sign
from aliyun_emulator.ram.models import DATE_FORMAT, format_date


@given(
    st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)),
    st.sampled_from([None, timezone.utc, timezone(timedelta(hours=8))]),
)
def test_format_date_is_strftime_of_the_date_format(moment: datetime, zone: timezone | None) -> None:
    moment = moment.replace(tzinfo=zone)

    assert format_date(moment) == moment.strftime(DATE_FORMAT)


@given(st.text(max_size=200), st.text(max_size=60))
def test_one_shot_signatures_equal_hmac_objects(text: str, secret: str) -> None:
    acs3 = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    v2 = base64.b64encode(hmac.new(f"{secret}&".encode(), text.encode(), hashlib.sha1).digest()).decode()

    assert sign("ACS3", text, secret) == acs3
    assert sign("v2", text, secret) == v2


def test_a_refused_timestamp_is_refused_every_time_not_remembered() -> None:
    for _ in range(3):
        with pytest.raises(ApiError) as refused:
            parse_timestamp("2026-02-30T00:00:00Z", "x-acs-date")
        assert refused.value.code == "InvalidTimeStamp.Format"
    assert parse_timestamp("2026-02-28T00:00:00Z", "x-acs-date") == datetime(2026, 2, 28, tzinfo=timezone.utc)


def test_canonical_headers_join_repeated_values_sorted_and_trimmed() -> None:
    headers = {"host": (" h ",), "x-acs-a": ("b ", " a")}
    text = acs3_string_to_sign("POST", "/", (), headers, ("host", "x-acs-a", "x-acs-missing"), "e3")
    canonical = "POST\n/\n\nhost:h\nx-acs-a:a,b\nx-acs-missing:\n\nhost;x-acs-a;x-acs-missing\ne3"

    assert text == "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
