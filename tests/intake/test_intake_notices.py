"""Outgoing chat notices in each receiver's own shape, signed the receiver's way, within DingTalk's rate limit."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import unquote

import pytest
from vendor_fakes import VendorFakes

from ram_delegate.notify import HttpNotifier, RateWindow, alert_body, chat_kind

SECRET = "SECrobot-signing-secret"


def test_each_receiver_gets_its_shape() -> None:
    assert chat_kind("https://oapi.dingtalk.com/robot/send?access_token=x") == "dingtalk"
    assert chat_kind("https://open.feishu.cn/open-apis/bot/v2/hook/abc") == "feishu"
    assert chat_kind("https://open.larksuite.com/open-apis/bot/v2/hook/abc") == "feishu"
    assert chat_kind("https://hooks.slack.com/services/T/B/X") == "slack"
    feishu = alert_body("https://open.feishu.cn/open-apis/bot/v2/hook/abc", "Grant check", "ok", critical=True)
    assert feishu == {"msg_type": "text", "content": {"text": "[CRITICAL] Grant check\nok"}}


def test_dingtalk_robot_is_signed_in_the_query(fakes: VendorFakes) -> None:
    HttpNotifier(signing_secret=SECRET, clock=lambda: 1_700_000_000.0).alert(
        fakes.url + "/robot/send?access_token=tok", "Grant check", "all good", critical=False
    )
    [call] = fakes.state.calls("/robot/send")
    assert call.query["access_token"] == "tok"
    assert call.query["timestamp"] == "1700000000000"
    expected = hmac.new(SECRET.encode(), f"1700000000000\n{SECRET}".encode(), hashlib.sha256).digest()
    assert base64.b64decode(unquote(call.query["sign"])) == expected
    assert call.body["msgtype"] == "markdown"


def test_feishu_bot_is_signed_in_the_body_and_accepted(fakes: VendorFakes, caplog: pytest.LogCaptureFixture) -> None:
    HttpNotifier(signing_secret=SECRET, clock=lambda: 1_700_000_000.0).alert(
        fakes.url + "/open-apis/bot/v2/hook/abc", "Grant check", "all good", critical=False
    )
    [call] = fakes.state.calls("/open-apis/bot/v2/hook/")
    assert call.body["msg_type"] == "text"
    assert call.body["timestamp"] == "1700000000"
    expected = hmac.new(f"1700000000\n{SECRET}".encode(), b"", hashlib.sha256).digest()
    assert base64.b64decode(call.body["sign"]) == expected
    assert SECRET not in caplog.text


def test_slack_keeps_text(fakes: VendorFakes) -> None:
    HttpNotifier(signing_secret=SECRET).alert(fakes.url + "/services/T/B/X", "Grant check", "ok", critical=False)
    [call] = fakes.state.calls("/services/")
    assert call.body == {"text": "*Grant check*\nok"}


def test_dingtalk_twenty_a_minute_waits_for_a_slot_and_drops_past_the_wait(fakes: VendorFakes) -> None:
    now = [0.0]
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += seconds

    window = RateWindow(20, 60.0, clock=lambda: now[0], sleep=sleep, max_wait=60.0)
    notifier = HttpNotifier(rate=window)
    url = fakes.url + "/robot/send?access_token=tok"
    for index in range(21):
        now[0] += 0.5
        notifier.alert(url, "n", str(index), critical=False)
    assert len(fakes.state.calls("/robot/send")) == 21
    assert len(pauses) == 1
    assert 49 <= pauses[0] <= 51  # the 21st waited until the first left the minute
    slow = RateWindow(1, 60.0, clock=lambda: now[0], sleep=sleep, max_wait=10.0)
    assert slow.acquire(url)
    assert not slow.acquire(url)
    other = HttpNotifier(rate=slow)
    other.alert(url, "n", "dropped", critical=False)
    assert len(fakes.state.calls("/robot/send")) == 21
    assert slow.acquire("another-robot")
