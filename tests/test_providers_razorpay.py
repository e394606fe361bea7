"""The Razorpay client (official library underneath) against the sandbox."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time

import pytest

from mibo.providers.errors import ProviderError
from mibo.providers.razorpay_client import RazorpayClient, verify_webhook_signature


def fast_client(sandbox, settings, **options) -> RazorpayClient:
    options = {"timeout": 2.0, "attempts": 3, "backoff": 0.01, **options}
    return sandbox.keep(RazorpayClient(settings, **options))


async def test_create_and_fetch_order(sandbox):
    client = fast_client(sandbox, sandbox.settings)
    order = await asyncio.to_thread(client.create_order, 150000, "INR", "appt-42", {"appointmentId": "42"})
    assert order["id"].startswith("order_")
    assert (order["amount"], order["currency"], order["receipt"], order["status"]) == (
        150000, "INR", "appt-42", "created")
    fetched = await asyncio.to_thread(client.fetch_order, order["id"])
    assert fetched == order
    recorded = await sandbox.requests("razorpay")
    assert [(r["method"], r["path"], r["status"]) for r in recorded] == [
        ("POST", "/razorpay/v1/orders", 200), ("GET", f"/razorpay/v1/orders/{order['id']}", 200)]
    assert recorded[0]["body"] == {"amount": 150000, "currency": "INR", "receipt": "appt-42",
                                   "notes": {"appointmentId": "42"}}
    assert recorded[0]["headers"]["Authorization"] == "***"


async def test_invalid_order_is_refused_once_and_not_retried(sandbox):
    client = fast_client(sandbox, sandbox.settings)
    with pytest.raises(ProviderError) as caught:
        await asyncio.to_thread(client.create_order, 50, "INR", "r1")
    assert caught.value.status == 400
    assert caught.value.retryable is False
    assert len(await sandbox.requests("razorpay")) == 1


async def test_wrong_key_secret_is_a_non_retryable_401(sandbox):
    client = fast_client(sandbox, sandbox.settings.replace(razorpay_key_secret="not-the-secret"))
    with pytest.raises(ProviderError) as caught:
        await asyncio.to_thread(client.fetch_order, "order_missing")
    assert (caught.value.status, caught.value.retryable) == (401, False)


async def test_server_error_is_retried_then_succeeds(sandbox):
    await sandbox.fault("razorpay", status=503, count=1)
    client = fast_client(sandbox, sandbox.settings)
    order = await asyncio.to_thread(client.create_order, 20000, "INR", "r2")
    assert [r["status"] for r in await sandbox.requests("razorpay")] == [503, 200]
    assert list(sandbox.state.orders) == [order["id"]]


async def test_retries_are_bounded(sandbox):
    await sandbox.fault("razorpay", status=502, count=5)
    client = fast_client(sandbox, sandbox.settings, attempts=3)
    with pytest.raises(ProviderError) as caught:
        await asyncio.to_thread(client.create_order, 20000, "INR", "r3")
    assert (caught.value.status, caught.value.retryable) == (502, True)
    assert len(await sandbox.requests("razorpay")) == 3


async def test_timeout_is_a_retryable_error(sandbox):
    await sandbox.fault("razorpay", delay=1.0, count=1)
    client = fast_client(sandbox, sandbox.settings, timeout=0.3, attempts=1)
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        await asyncio.to_thread(client.fetch_order, "order_x")
    assert time.monotonic() - started < 0.9
    assert caught.value.retryable is True
    assert caught.value.status is None


async def test_create_payment_link(sandbox):
    client = fast_client(sandbox, sandbox.settings)
    expire_by = int(time.time()) + 3600
    customer = {"name": "Asha", "contact": "+919876543210"}
    link = await asyncio.to_thread(client.create_payment_link, 80000, "INR", "Consultation", customer,
                                   expire_by, "appt-7-link", {"appointmentId": "7"})
    assert link["id"].startswith("plink_")
    assert link["short_url"].startswith("https://")
    assert (link["amount"], link["status"], link["reference_id"], link["expire_by"]) == (
        80000, "created", "appt-7-link", expire_by)
    (recorded,) = await sandbox.requests("razorpay")
    assert recorded["body"] == {
        "amount": 80000, "currency": "INR", "description": "Consultation",
        "customer": {"name": "Asha", "contact": "+919876543210"}, "expire_by": expire_by,
        "reference_id": "appt-7-link", "notes": {"appointmentId": "7"},
        "notify": {"sms": False, "email": False}, "reminder_enable": False}
    fetched = await asyncio.to_thread(client.fetch_payment_link, link["id"])
    assert fetched == link


async def test_payment_link_retry_returns_the_link_already_made(sandbox):
    """A retry after the first request went through must not leave us without the link."""
    client = fast_client(sandbox, sandbox.settings)
    args = (80000, "INR", "Consultation", {"name": "Asha", "contact": "+919876543210"},
            int(time.time()) + 3600, "appt-8-link")
    first = await asyncio.to_thread(client.create_payment_link, *args)
    second = await asyncio.to_thread(client.create_payment_link, *args)
    assert second["id"] == first["id"]
    assert len(sandbox.state.links) == 1
    assert [(r["method"], r["status"]) for r in await sandbox.requests("razorpay")] == [
        ("POST", 200), ("POST", 400), ("GET", 200)]


async def test_checkout_signature(sandbox):
    client = fast_client(sandbox, sandbox.settings)
    order = await asyncio.to_thread(client.create_order, 150000, "INR", "r4")
    status, paid = await sandbox.post("/_sandbox/razorpay/pay",
                                      {"orderId": order["id"], "outcome": "captured"})
    assert status == 200
    checkout = paid["checkout"]
    order_id, payment_id, signature = (checkout["razorpay_order_id"], checkout["razorpay_payment_id"],
                                       checkout["razorpay_signature"])
    assert client.verify_payment_signature(order_id, payment_id, signature) is True
    assert client.verify_payment_signature(order_id, "pay_someoneelse", signature) is False
    tampered = signature[:-1] + ("1" if signature.endswith("0") else "0")
    assert client.verify_payment_signature(order_id, payment_id, tampered) is False
    assert client.verify_payment_signature(order_id, payment_id, "é" * 64) is False
    assert client.verify_payment_signature(order_id, payment_id, "") is False
    # The signature is made with the KEY secret; a client with another secret must refuse it.
    other = fast_client(sandbox, sandbox.settings.replace(razorpay_key_secret="another-secret"))
    assert other.verify_payment_signature(order_id, payment_id, signature) is False


async def test_order_payments_and_status_after_payment(sandbox):
    client = fast_client(sandbox, sandbox.settings)
    order = await asyncio.to_thread(client.create_order, 150000, "INR", "r5")
    await sandbox.post("/_sandbox/razorpay/pay", {"orderId": order["id"], "outcome": "failed"})
    await sandbox.post("/_sandbox/razorpay/pay", {"orderId": order["id"], "outcome": "captured"})
    payments = await asyncio.to_thread(client.fetch_order_payments, order["id"])
    assert [p["status"] for p in payments] == ["failed", "captured"]
    assert all(p["order_id"] == order["id"] and p["amount"] == 150000 for p in payments)
    fetched = await asyncio.to_thread(client.fetch_order, order["id"])
    assert (fetched["status"], fetched["amount_paid"], fetched["attempts"]) == ("paid", 150000, 2)


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_webhook_signature_is_checked_over_the_raw_bytes(settings):
    secret = settings.razorpay_webhook_secret
    raw = (b'{"event": "payment.captured",  "payload":{"payment":'
           b'{"entity":{"amount":1500,"note":"\xe2\x82\xb9"}}}}')
    signature = sign(secret, raw)
    assert verify_webhook_signature(raw, signature, secret) is True
    # The same JSON re-serialised is different bytes: it must not verify.
    reserialised = json.dumps(json.loads(raw)).encode()
    assert json.loads(reserialised) == json.loads(raw)
    assert verify_webhook_signature(reserialised, signature, secret) is False
    assert verify_webhook_signature(raw.replace(b"1500", b"1"), signature, secret) is False
    assert verify_webhook_signature(raw, signature, "wrong-secret") is False
    assert verify_webhook_signature(raw, sign(settings.razorpay_key_secret, raw), secret) is False
    assert verify_webhook_signature(raw, "", secret) is False
    assert verify_webhook_signature(raw, None, secret) is False
    assert verify_webhook_signature(raw, signature, "") is False
    assert verify_webhook_signature(b"\xff" + raw, sign(secret, b"\xff" + raw), secret) is False
