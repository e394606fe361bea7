"""Nothing a sign-in logs, at INFO and as the JSON formatter writes it, holds an OTP, a password or
a full phone number: send-otp for known and unknown numbers, failed logins, and both OTP senders."""

from __future__ import annotations

import io
import logging
import re

import pytest

from mibo.core.errors import ApiError
from mibo.core.logs import JsonFormatter
from mibo.core.relay import Publisher
from mibo.domain.otp import ConsoleOtpSender
from mibo.domain.otp_delivery import WhatsAppOtpSender

STAFF_PHONE = "+919812345678"
UNKNOWN_PHONE = "+919876501234"
PHONES = ("9812345678", "9876501234")
WRONG_PASSWORD = "Wrong-Horse-7"
# Six digits standing alone: any OTP, sent or guessed. Request ids are fixed below, without digits.
SIX_DIGITS = re.compile(r"(?<!\d)\d{6}(?!\d)")


@pytest.fixture
def json_logs(caplog):
    caplog.set_level(logging.INFO)

    def written() -> str:
        formatter = JsonFormatter()
        return "\n".join(formatter.format(record) for record in caplog.records)

    return written


def assert_clean(text: str, *secrets: str) -> None:
    assert text  # something was logged, or this checks nothing
    for secret in (*secrets, *PHONES):
        assert secret not in text
    assert SIX_DIGITS.findall(text) == []


async def test_sign_in_routes_log_no_otp_password_or_phone(client, factory, otp_sender, json_logs):
    from tests.factories import PASSWORD

    staff = await factory.staff("ADMIN", login=False, phone=STAFF_PHONE)
    headers = {"X-Request-ID": "logs-check"}

    async def post(path, body):
        return await client.post(path, json=body, headers=headers)

    for phone in (STAFF_PHONE, UNKNOWN_PHONE):
        assert (await post("/api/auth/send-otp", {"phone": phone})).status == 200
    code = otp_sender.last_for(STAFF_PHONE)
    wrong = "000000" if code != "000000" else "111111"
    for phone in (STAFF_PHONE, UNKNOWN_PHONE):
        assert (await post("/api/auth/login/phone-otp", {"phone": phone, "otp": wrong})).status == 401
    assert (await post("/api/auth/login/username-password",
                       {"username": staff.username, "password": WRONG_PASSWORD})).status == 401
    for phone in (STAFF_PHONE, UNKNOWN_PHONE):
        resp = await post("/api/auth/login/phone-password", {"phone": phone, "password": WRONG_PASSWORD})
        assert resp.status == 401
    assert (await post("/api/auth/login/phone-otp", {"phone": STAFF_PHONE, "otp": code})).status == 200
    text = json_logs()
    assert '"login failed"' in text and "otp requested" in text
    assert_clean(text, code, wrong, PASSWORD, WRONG_PASSWORD)


@pytest.mark.parametrize("show_code", [True, False])
async def test_the_console_sender_logs_no_code_or_phone(json_logs, show_code):
    console = io.StringIO()
    await ConsoleOtpSender(show_code=show_code, stream=console).send(STAFF_PHONE, "424242", 10)
    assert_clean(json_logs(), "424242")
    printed = console.getvalue()
    assert ("424242" in printed) is show_code  # a developer sees the code on the console only
    assert PHONES[0] not in printed


async def test_the_whatsapp_sender_logs_no_code_or_phone(settings, redis, json_logs):
    publisher = Publisher(settings)
    try:
        await WhatsAppOtpSender(settings, lambda: publisher).send(STAFF_PHONE, "424242", 10)
    finally:
        publisher.close()
    assert await redis.llen("dramatiq:default") == 1
    assert_clean(json_logs(), "424242")


async def test_the_whatsapp_sender_logs_no_code_or_phone_when_it_cannot_queue(settings, json_logs):
    publisher = Publisher(settings.replace(redis_url="redis://127.0.0.1:1/0"))
    try:
        with pytest.raises(ApiError) as refused:
            await WhatsAppOtpSender(settings, lambda: publisher).send(STAFF_PHONE, "424242", 10)
    finally:
        publisher.close()
    assert refused.value.status == 503
    text = json_logs()
    assert "otp not queued" in text
    assert_clean(text, "424242")
