"""Fixtures of the payment tests: the API with its Razorpay client pointed at the sandbox, and a
stand-in for the worker that runs the payment actors' work for the outbox rows they queued.

A module that needs other settings (e.g. reconciling at once) overrides `pay_settings`; the API
and the worker follow it."""

from __future__ import annotations

import pytest

from tests.payments_support import PaymentWorker, payments_api


@pytest.fixture
def pay_settings(sandbox):
    return sandbox.settings


@pytest.fixture
async def api(aiohttp_client, pay_settings, pool, redis, otp_sender):
    return await payments_api(aiohttp_client, pay_settings, pool, redis, otp_sender)


@pytest.fixture
def worker(pool, pay_settings, factory):
    return PaymentWorker(pool, pay_settings, factory)
