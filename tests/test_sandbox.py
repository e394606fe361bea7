"""The sandbox's own behaviour: signed Razorpay webhooks, control endpoints, credential checks."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from aiohttp import web

from mibo.providers.errors import ProviderError
from mibo.providers.razorpay_client import RazorpayClient, verify_webhook_signature

RECEIVED = web.AppKey("received", list)


@pytest.fixture
async def receiver(aiohttp_server):
    """A stand-in for our webhook endpoint: keeps the raw bytes and headers it was sent."""

    async def webhook(request: web.Request) -> web.Response:
        request.app[RECEIVED].append((await request.read(), dict(request.headers)))
        return web.json_response({"received": True})

    app = web.Application()
    app[RECEIVED] = []
    app.router.add_post("/api/payments/webhook", webhook)
    server = await aiohttp_server(app)
    return str(server.make_url("/api/payments/webhook")), app[RECEIVED]


async def new_order(sandbox, amount=150000) -> dict:
    client = sandbox.keep(RazorpayClient(sandbox.settings, timeout=2.0))
    return await asyncio.to_thread(client.create_order, amount, "INR", "appt-1", {"appointmentId": "1"})


async def new_link(sandbox, reference_id="appt-2-link") -> dict:
    client = sandbox.keep(RazorpayClient(sandbox.settings, timeout=2.0))
    return await asyncio.to_thread(client.create_payment_link, 90000, "INR", "Consultation",
                                   {"name": "Asha", "contact": "+919876543210"}, int(time.time()) + 3600,
                                   reference_id, {"appointmentId": "2"})


async def test_pay_posts_a_signed_payment_captured_webhook(sandbox, receiver):
    url, received = receiver
    order = await new_order(sandbox)
    status, result = await sandbox.post("/_sandbox/razorpay/pay",
                                        {"orderId": order["id"], "outcome": "captured", "webhookUrl": url})
    assert status == 200
    assert result["delivery"]["status"] == 200
    ((raw, headers),) = received
    secret = sandbox.settings.razorpay_webhook_secret
    assert verify_webhook_signature(raw, headers["X-Razorpay-Signature"], secret) is True
    key_secret = sandbox.settings.razorpay_key_secret
    assert verify_webhook_signature(raw, headers["X-Razorpay-Signature"], key_secret) is False
    assert headers["X-Razorpay-Event-Id"] == result["eventId"]
    assert raw.decode() == result["body"]
    event = json.loads(raw)
    assert (event["entity"], event["event"], event["contains"]) == ("event", "payment.captured", ["payment"])
    payment = event["payload"]["payment"]["entity"]
    assert payment == result["payment"]
    assert (payment["order_id"], payment["amount"], payment["currency"], payment["status"]) == (
        order["id"], 150000, "INR", "captured")
    assert payment["id"].startswith("pay_")
    assert sandbox.state.orders[order["id"]]["status"] == "paid"


async def test_failed_then_captured_each_get_a_unique_event(sandbox, receiver):
    url, received = receiver
    order = await new_order(sandbox)
    for outcome in ("failed", "captured"):
        status, _ = await sandbox.post("/_sandbox/razorpay/pay",
                                       {"orderId": order["id"], "outcome": outcome, "webhookUrl": url})
        assert status == 200
    events = [json.loads(raw)["event"] for raw, _ in received]
    assert events == ["payment.failed", "payment.captured"]
    assert len({headers["X-Razorpay-Event-Id"] for _, headers in received}) == 2
    # A paid order takes no more payments.
    status, body = await sandbox.post("/_sandbox/razorpay/pay",
                                      {"orderId": order["id"], "outcome": "captured"})
    assert status == 409, body
    assert len(received) == 2


async def test_pay_without_webhook_url_returns_what_it_would_send(sandbox):
    """So that tests can replay, reorder or tamper with exactly what Razorpay would send."""
    order = await new_order(sandbox)
    status, result = await sandbox.post("/_sandbox/razorpay/pay",
                                        {"orderId": order["id"], "outcome": "captured", "amount": 100})
    assert status == 200
    assert result["delivery"] is None
    assert verify_webhook_signature(result["body"].encode(), result["headers"]["X-Razorpay-Signature"],
                                    sandbox.settings.razorpay_webhook_secret)
    # The amount override makes a webhook that does not match the order.
    assert json.loads(result["body"])["payload"]["payment"]["entity"]["amount"] == 100


async def test_payment_link_paid_and_expired(sandbox, receiver):
    url, received = receiver
    paid, expiring = await new_link(sandbox, "appt-3-link"), await new_link(sandbox, "appt-4-link")
    status, _ = await sandbox.post("/_sandbox/razorpay/pay",
                                   {"paymentLinkId": paid["id"], "outcome": "captured", "webhookUrl": url})
    assert status == 200
    status, _ = await sandbox.post("/_sandbox/razorpay/expire-link",
                                   {"paymentLinkId": expiring["id"], "webhookUrl": url})
    assert status == 200
    (paid_raw, paid_headers), (expired_raw, expired_headers) = received
    secret = sandbox.settings.razorpay_webhook_secret
    assert verify_webhook_signature(paid_raw, paid_headers["X-Razorpay-Signature"], secret)
    assert verify_webhook_signature(expired_raw, expired_headers["X-Razorpay-Signature"], secret)
    paid_event, expired_event = json.loads(paid_raw), json.loads(expired_raw)
    assert paid_event["event"] == "payment_link.paid"
    link = paid_event["payload"]["payment_link"]["entity"]
    payment = paid_event["payload"]["payment"]["entity"]
    order = paid_event["payload"]["order"]["entity"]
    assert (link["id"], link["status"], link["reference_id"], link["amount_paid"]) == (
        paid["id"], "paid", "appt-3-link", 90000)
    assert (payment["status"], payment["amount"], payment["order_id"]) == ("captured", 90000, order["id"])
    assert payment["notes"] == {"appointmentId": "2"}
    assert expired_event["event"] == "payment_link.expired"
    assert expired_event["payload"]["payment_link"]["entity"]["status"] == "expired"
    # Neither link can change again.
    for path, link_id in (("/_sandbox/razorpay/pay", expiring["id"]),
                          ("/_sandbox/razorpay/expire-link", paid["id"])):
        status, _ = await sandbox.post(path, {"paymentLinkId": link_id, "outcome": "captured"})
        assert status == 409


async def test_cancel_payment_link_as_razorpay_does(sandbox):
    """Only an open link can be cancelled; a paid, cancelled or expired one (or an unknown id) is a 400."""
    client = sandbox.keep(RazorpayClient(sandbox.settings, timeout=2.0, attempts=1))
    open_link, paid, expired = [await new_link(sandbox, f"appt-{n}-link") for n in (5, 6, 7)]
    await sandbox.post("/_sandbox/razorpay/pay", {"paymentLinkId": paid["id"], "outcome": "captured"})
    await sandbox.post("/_sandbox/razorpay/expire-link", {"paymentLinkId": expired["id"]})
    cancelled = await asyncio.to_thread(client.cancel_payment_link, open_link["id"])
    assert (cancelled["id"], cancelled["status"]) == (open_link["id"], "cancelled")
    assert cancelled["cancelled_at"] >= open_link["created_at"]
    assert (await asyncio.to_thread(client.fetch_payment_link, open_link["id"]))["status"] == "cancelled"
    for link_id, status in ((open_link["id"], "cancelled"), (paid["id"], "paid"), (expired["id"], "expired")):
        with pytest.raises(ProviderError) as refused:
            await asyncio.to_thread(client.cancel_payment_link, link_id)
        assert (refused.value.status, refused.value.retryable) == (400, False)
        error = json.loads(refused.value.message)["error"]
        assert (error["code"], error["description"]) == (
            "BAD_REQUEST_ERROR", f"Payment link cannot be cancelled as it is already {status}")
    with pytest.raises(ProviderError):
        await asyncio.to_thread(client.cancel_payment_link, "plink_missing")
    assert sandbox.state.links[paid["id"]]["status"] == "paid"
    cancels = [(r["method"], r["path"].split("/")[-2], r["status"]) for r in await sandbox.requests("razorpay")
               if r["path"].endswith("/cancel")]
    assert cancels == [("POST", open_link["id"], 200), ("POST", open_link["id"], 400), ("POST", paid["id"], 400),
                       ("POST", expired["id"], 400), ("POST", "plink_missing", 400)]


async def test_unreachable_webhook_url_is_reported(sandbox):
    order = await new_order(sandbox)
    status, result = await sandbox.post("/_sandbox/razorpay/pay", {
        "orderId": order["id"], "outcome": "captured", "webhookUrl": "http://127.0.0.1:9/webhook"})
    assert status == 200
    assert result["delivery"] == {"error": "ClientConnectorError"}


async def test_pay_refuses_bad_input(sandbox):
    status, _ = await sandbox.post("/_sandbox/razorpay/pay", {"orderId": "order_x", "outcome": "captured"})
    assert status == 404
    order = await new_order(sandbox)
    status, _ = await sandbox.post("/_sandbox/razorpay/pay", {"orderId": order["id"], "outcome": "won"})
    assert status == 400


async def test_requests_are_filtered_and_reset(sandbox):
    await new_order(sandbox)
    gallabox = sandbox.server.make_url("/gallabox/devapi/messages/whatsapp")
    async with sandbox.http.post(gallabox, json={}) as resp:
        assert resp.status == 401
    assert [r["provider"] for r in await sandbox.requests("razorpay")] == ["razorpay"]
    assert [r["status"] for r in await sandbox.requests("gallabox")] == [401]
    async with sandbox.http.delete(sandbox.server.make_url("/_sandbox/requests")) as resp:
        assert resp.status == 204
    assert await sandbox.requests("razorpay") == []
    assert len(sandbox.state.orders) == 1  # provider data survives a reset of the record


@pytest.mark.parametrize("fault", [
    {"provider": "stripe", "status": 500},
    {"provider": "gallabox", "status": 200},
    {"provider": "gallabox", "status": 500, "count": 0},
    {"provider": "gallabox", "delay": -1},
    {"provider": "gallabox"},
])
async def test_faults_are_validated(sandbox, fault):
    status, _ = await sandbox.post("/_sandbox/faults", fault)
    assert status == 400
    assert sandbox.state.faults == []


async def test_calendar_needs_a_token_from_the_token_endpoint(sandbox):
    url = sandbox.server.make_url("/google/calendar/v3/calendars/primary/events")
    async with sandbox.http.post(url, json={}, headers={"Authorization": "Bearer made-up"}) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == 401
    async with sandbox.http.post(sandbox.server.make_url("/google/token"),
                                 data={"grant_type": "client_credentials"}) as resp:
        assert resp.status == 400


@pytest.mark.parametrize("whatsapp", [None, "template", {"type": "template", "template": []}])
async def test_malformed_gallabox_body_is_a_400_not_a_crash(sandbox, whatsapp):
    settings = sandbox.settings
    body = {"channelId": settings.gallabox_channel_id, "channelType": "whatsapp",
            "recipient": {"name": "Asha", "phone": "919876543210"}, "whatsapp": whatsapp}
    headers = {"apiKey": settings.gallabox_api_key, "apiSecret": settings.gallabox_api_secret}
    url = sandbox.server.make_url("/gallabox/devapi/messages/whatsapp")
    async with sandbox.http.post(url, json=body, headers=headers) as resp:
        assert resp.status == 400
        assert "whatsapp" in (await resp.json())["message"]
