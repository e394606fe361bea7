"""Worker logs: masked without eating timestamps, and every line of a step carries its actor and ids."""

from __future__ import annotations

import io
import json
import logging
import os

import pytest

os.environ.setdefault("MIBO_BROKER", "stub")  # (tests/conftest.py sets it too, before any import)

import jobs.context  # noqa: E402
from jobs import steps  # noqa: E402
from mibo.core import outbox  # noqa: E402
from mibo.core.logs import JsonFormatter, log_event, mask  # noqa: E402


@pytest.mark.parametrize("line, expected", [
    ("[2026-12-01 06:47:09,123] sent to +919876543210", "[2026-12-01 06:47:09,123] sent to ******3210"),
    ("2026-12-01 06:47:09 +91 98765 43210", "2026-12-01 06:47:09 ******3210"),
    ("retry at 2026-12-01T06:47:09.512+00:00 for 9876543210", "retry at 2026-12-01T06:47:09.512+00:00 for ******3210"),
    ("on 2026-12-01 9876543210", "on 2026-12-01 ******3210"),
    ("2026-12-01 06:47", "2026-12-01 06:47"),
    # Digits that only look like a date at their start are still a phone.
    ("call 2026-12-0198765", "call ******8765"),
    ("phone 9876-54-32-10", "phone ******3210"),
])
def test_masking_keeps_timestamps_and_still_hides_phones(line, expected):
    assert mask(line) == expected


async def test_every_line_logged_inside_a_step_carries_the_step(pool, monkeypatch):
    monkeypatch.setattr(jobs.context, "_pool", pool)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(steps.add_step_fields)
    logger = logging.getLogger("tests.step")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    async def work(notification_id):
        logger.info("plain line")
        log_event(logger, logging.INFO, "with its own fields", phone="+919876543210", notificationId=-1)

    try:
        await steps.step(outbox.SEND_NOTIFICATION, work, ("notificationId",))(42)
        logger.info("outside any step")
    finally:
        logger.removeHandler(handler)
    plain, own, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (plain["actor"], plain["notificationId"], plain["msg"]) == ("send_notification", 42, "plain line")
    # A field the line passes itself wins; everything is masked as usual.
    assert (own["actor"], own["notificationId"], own["phone"]) == ("send_notification", -1, "******3210")
    assert "actor" not in outside and "notificationId" not in outside
