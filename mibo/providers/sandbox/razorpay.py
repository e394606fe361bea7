"""Fake Razorpay: orders, payments, payment links and refunds, and the signed webhooks of a simulated
payment and of each refund.

    /razorpay/v1/orders, /orders/{id}, /orders/{id}/payments, /payment_links, /payment_links/{id},
                /payment_links/{id}/cancel, /payments/{id}/refund, /payments/{id}/refunds, /refunds/{id}

A refund is made `pending` and announced with refund.created; then, as the control endpoints
say (RefundBehaviour), it is settled after a delay (refund.processed or refund.failed) or left
pending until a test settles it.

Webhooks are signed as Razorpay signs them: HMAC-SHA256 hex of the raw body with the WEBHOOK
secret in X-Razorpay-Signature, and a unique X-Razorpay-Event-Id. Paying an order also returns
the checkout fields (razorpay_order_id, razorpay_payment_id, razorpay_signature = HMAC-SHA256 hex
of "order_id|payment_id" with the KEY secret) that the browser would post to /payments/verify.
Without webhookUrl nothing is delivered, but the body, headers and signature are returned, so a
test can deliver them itself: replayed, reordered or tampered with.
"""

from __future__ import annotations

import asyncio
import json
import re

import aiohttp
from aiohttp import web

from mibo.providers.sandbox.state import (
    SANDBOX,
    RefundBehaviour,
    SandboxState,
    control_error,
    find_entity,
    hmac_hex,
    is_int,
    json_object,
    random_id,
    same_secret,
    unix_now,
)

PREFIX = "/razorpay/v1"


def razorpay_error(status: int, description: str, field_name: str | None = None) -> web.Response:
    code = "SERVER_ERROR" if status >= 500 else "BAD_REQUEST_ERROR"
    return web.json_response({"error": {"code": code, "description": description, "field": field_name}},
                             status=status)


def denied(request: web.Request, state: SandboxState) -> web.Response | None:
    """Basic auth with the configured key id and key secret, or Razorpay's 401."""
    settings = state.settings
    try:
        auth = aiohttp.BasicAuth.decode(request.headers.get("Authorization", ""))
    except ValueError:
        auth = None
    if auth and same_secret(auth.login, settings.razorpay_key_id) and same_secret(
            auth.password, settings.razorpay_key_secret):
        return None
    return razorpay_error(401, "The api key provided is invalid")


def _amount_problem(data: dict | None) -> web.Response | None:
    """Razorpay's answer to a body (orders, payment links) that is not an object or whose
    amount, currency or notes are invalid; None when they are fine."""
    if data is None:
        return razorpay_error(400, "The request body must be a JSON object")
    if not is_int(data.get("amount")) or data["amount"] < 100:
        return razorpay_error(400, "The amount must be atleast INR 1.00", "amount")
    if not isinstance(data.get("currency"), str) or not re.fullmatch(r"[A-Z]{3}", data["currency"]):
        return razorpay_error(400, "The currency field is invalid", "currency")
    if not isinstance(data.get("notes", {}), dict):
        return razorpay_error(400, "The notes field must be an object", "notes")
    return None


def _long_text_problem(data: dict, field: str, label: str) -> web.Response | None:
    """Razorpay caps receipts and reference ids at 40 characters."""
    value = data.get(field)
    if value is not None and (not isinstance(value, str) or len(value) > 40):
        return razorpay_error(400, f"The {label} may not be greater than 40 characters", field)
    return None


def _new_order(state: SandboxState, amount: int, currency: str, receipt: str | None, notes: dict) -> dict:
    order = {"id": random_id("order_"), "entity": "order", "amount": amount, "amount_paid": 0,
             "amount_due": amount, "currency": currency, "receipt": receipt, "offer_id": None,
             "status": "created", "attempts": 0, "notes": notes, "created_at": unix_now()}
    state.orders[order["id"]] = order
    return order


async def create_order(request: web.Request) -> web.Response:
    data = await json_object(request)
    problem = _amount_problem(data) or _long_text_problem(data, "receipt", "receipt")
    if problem:
        return problem
    order = _new_order(request.app[SANDBOX], data["amount"], data["currency"], data.get("receipt"),
                       data.get("notes") or {})
    return web.json_response(order)


async def list_orders(request: web.Request) -> web.Response:
    """GET /orders[?receipt=]: Razorpay's collection, newest first."""
    receipt = request.query.get("receipt")
    orders = [o for o in request.app[SANDBOX].orders.values() if receipt is None or o["receipt"] == receipt]
    orders.sort(key=lambda o: o["created_at"], reverse=True)
    return web.json_response({"entity": "collection", "count": len(orders), "items": orders})


async def fetch_order(request: web.Request) -> web.Response:
    order = request.app[SANDBOX].orders.get(request.match_info["order_id"])
    if not order:
        return razorpay_error(400, "The id provided does not exist", "id")
    return web.json_response(order)


async def order_payments(request: web.Request) -> web.Response:
    state = request.app[SANDBOX]
    order_id = request.match_info["order_id"]
    if order_id not in state.orders:
        return razorpay_error(400, "The id provided does not exist", "id")
    items = [p for p in state.payments.values() if p["order_id"] == order_id]
    return web.json_response({"entity": "collection", "count": len(items), "items": items})


async def create_payment_link(request: web.Request) -> web.Response:
    state = request.app[SANDBOX]
    data = await json_object(request)
    problem = _amount_problem(data) or _long_text_problem(data, "reference_id", "reference id")
    if problem:
        return problem
    reference_id = data.get("reference_id")
    if reference_id and any(link["reference_id"] == reference_id for link in state.links.values()):
        return razorpay_error(400, f"Payment Link with reference_id {reference_id} already exists",
                              "reference_id")
    expire_by = data.get("expire_by", 0)
    if not is_int(expire_by) or (expire_by and expire_by <= unix_now()):
        return razorpay_error(400, "The expire by should be a future timestamp", "expire_by")
    link_id = random_id("plink_")
    link = {"id": link_id, "amount": data["amount"], "amount_paid": 0, "currency": data["currency"],
            "accept_partial": False, "description": data.get("description", ""),
            "customer": data.get("customer") or {}, "notify": data.get("notify") or {},
            "reminder_enable": bool(data.get("reminder_enable")), "reference_id": reference_id or "",
            "notes": data.get("notes") or {}, "expire_by": expire_by, "expired_at": 0, "cancelled_at": 0,
            "status": "created", "payments": None, "created_at": unix_now(), "updated_at": unix_now(),
            "short_url": f"https://rzp.io/i/{link_id.removeprefix('plink_')[:10]}", "user_id": ""}
    state.links[link_id] = link
    return web.json_response(link)


async def list_payment_links(request: web.Request) -> web.Response:
    reference_id = request.query.get("reference_id")
    links = [link for link in request.app[SANDBOX].links.values()
             if reference_id is None or link["reference_id"] == reference_id]
    return web.json_response({"payment_links": links})


async def fetch_payment_link(request: web.Request) -> web.Response:
    link = request.app[SANDBOX].links.get(request.match_info["link_id"])
    if not link:
        return razorpay_error(400, "The id provided does not exist", "id")
    return web.json_response(link)


async def cancel_payment_link(request: web.Request) -> web.Response:
    """Razorpay cancels only an unpaid, open link; a paid, cancelled or expired one is a 400."""
    link = request.app[SANDBOX].links.get(request.match_info["link_id"])
    if not link:
        return razorpay_error(400, "The id provided does not exist", "id")
    if link["status"] != "created":
        return razorpay_error(400, f"Payment link cannot be cancelled as it is already {link['status']}")
    link.update(status="cancelled", cancelled_at=unix_now(), updated_at=unix_now())
    return web.json_response(link)


async def deliver_webhook(state: SandboxState, event: str, entities: dict, webhook_url: str | None) -> dict:
    """Build the webhook as Razorpay would, sign the exact bytes, and POST them if asked to."""
    body = json.dumps({
        "entity": "event", "account_id": "acc_sandbox", "event": event, "contains": list(entities),
        "payload": {name: {"entity": entity} for name, entity in entities.items()}, "created_at": unix_now(),
    }).encode()
    headers = {"Content-Type": "application/json",
               "X-Razorpay-Signature": hmac_hex(state.settings.razorpay_webhook_secret, body),
               "X-Razorpay-Event-Id": random_id("evt_")}
    result = {"event": event, "eventId": headers["X-Razorpay-Event-Id"], "headers": headers,
              "body": body.decode(), "delivery": None}
    state.webhooks.append(result)
    if webhook_url:
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session, \
                    session.post(webhook_url, data=body, headers=headers) as response:
                result["delivery"] = {"status": response.status, "body": (await response.text())[:500]}
        except (aiohttp.ClientError, TimeoutError) as exc:
            result["delivery"] = {"error": type(exc).__name__}
    return result


def _order_for_link(state: SandboxState, link: dict) -> dict:
    # Razorpay makes an order behind every payment link when the customer opens it.
    order = _new_order(state, link["amount"], link["currency"], link["reference_id"] or None, link["notes"])
    link["order_id"] = order["id"]
    return order


async def simulate_payment(request: web.Request) -> web.Response:
    state = request.app[SANDBOX]
    data = await json_object(request) or {}
    outcome = data.get("outcome")
    if outcome not in ("captured", "failed"):
        return control_error("outcome must be captured or failed")
    link = None
    if "paymentLinkId" in data:
        link = find_entity(state.links, data["paymentLinkId"])
        if not link:
            return control_error("no such payment link", 404)
        if link["status"] != "created":
            return control_error(f"payment link is {link['status']}", 409)
        order = state.orders.get(link.get("order_id")) or _order_for_link(state, link)
    else:
        order = find_entity(state.orders, data.get("orderId"))
        if not order:
            return control_error("give the orderId of an existing order, or a paymentLinkId", 404)
    if order["status"] == "paid":
        return control_error("order is already paid", 409)
    # amount/currency overrides let tests send a webhook that does not match the order.
    amount, currency = data.get("amount", order["amount"]), data.get("currency", order["currency"])
    captured = outcome == "captured"
    payment = {"id": random_id("pay_"), "entity": "payment", "amount": amount, "currency": currency,
               "status": outcome, "order_id": order["id"], "method": "upi", "captured": captured,
               "notes": order["notes"], "error_code": None if captured else "BAD_REQUEST_ERROR",
               "error_description": None if captured else "Payment failed", "created_at": unix_now()}
    state.payments[payment["id"]] = payment
    order["attempts"] += 1
    order["status"] = "paid" if captured else "attempted"
    if captured:
        order.update(amount_paid=amount, amount_due=0)
    if link and captured:
        link.update(status="paid", amount_paid=amount, updated_at=unix_now(),
                    payments=[{"payment_id": payment["id"], "amount": amount, "status": "captured"}])
        result = await deliver_webhook(state, "payment_link.paid",
                                        {"payment_link": link, "order": order, "payment": payment},
                                        data.get("webhookUrl"))
    else:
        result = await deliver_webhook(state, f"payment.{outcome}", {"payment": payment},
                                        data.get("webhookUrl"))
    result["payment"] = payment
    if not link:
        result["checkout"] = {"razorpay_order_id": order["id"], "razorpay_payment_id": payment["id"],
                              "razorpay_signature": hmac_hex(state.settings.razorpay_key_secret,
                                                              f"{order['id']}|{payment['id']}".encode())}
    return web.json_response(result)


async def expire_link(request: web.Request) -> web.Response:
    state = request.app[SANDBOX]
    data = await json_object(request) or {}
    link = find_entity(state.links, data.get("paymentLinkId"))
    if not link:
        return control_error("no such payment link", 404)
    if link["status"] != "created":
        return control_error(f"payment link is {link['status']}", 409)
    link.update(status="expired", expired_at=unix_now(), updated_at=unix_now())
    result = await deliver_webhook(state, "payment_link.expired", {"payment_link": link},
                                    data.get("webhookUrl"))
    return web.json_response(result)


# --- refunds ------------------------------------------------------------------------------

REFUND_OUTCOMES = ("processed", "failed")


def _refundable(payment: dict) -> int:
    return payment["amount"] - payment.get("amount_refunded", 0)


async def create_refund(request: web.Request) -> web.Response:
    """POST /payments/{id}/refund: Razorpay refunds only a captured payment, up to what is left of it."""
    state = request.app[SANDBOX]
    payment = state.payments.get(request.match_info["payment_id"])
    if not payment:
        return razorpay_error(400, "The id provided does not exist", "id")
    data = await json_object(request)
    if data is None:
        return razorpay_error(400, "The request body must be a JSON object")
    if payment["status"] not in ("captured", "refunded"):
        return razorpay_error(400, "The payment has not been captured, so it cannot be refunded", "payment_id")
    amount = data.get("amount", _refundable(payment))
    if not is_int(amount) or amount < 100:
        return razorpay_error(400, "The amount must be atleast INR 1.00", "amount")
    if amount > _refundable(payment):
        return razorpay_error(400, "The refund amount provided is greater than amount captured", "amount")
    if data.get("speed", "normal") not in ("normal", "optimum"):
        return razorpay_error(400, "The selected speed is invalid.", "speed")
    if not isinstance(data.get("notes", {}), dict):
        return razorpay_error(400, "The notes field must be an object", "notes")
    problem = _long_text_problem(data, "receipt", "receipt")
    if problem:
        return problem
    refund = {"id": random_id("rfnd_"), "entity": "refund", "amount": amount, "currency": payment["currency"],
              "payment_id": payment["id"], "notes": data.get("notes") or [], "receipt": data.get("receipt"),
              "acquirer_data": {"arn": None}, "created_at": unix_now(), "batch_id": None, "status": "pending",
              "speed_processed": "normal", "speed_requested": data.get("speed", "normal")}
    state.refunds[refund["id"]] = refund
    _count_refund(payment, amount)
    behaviour = state.refund_behaviour
    task = asyncio.get_running_loop().create_task(_announce_refund(state, refund, behaviour))
    state.tasks.add(task)
    task.add_done_callback(state.tasks.discard)
    return web.json_response(refund)


def _count_refund(payment: dict, amount: int) -> None:
    payment["amount_refunded"] = payment.get("amount_refunded", 0) + amount
    full = payment["amount_refunded"] >= payment["amount"]
    payment["refund_status"] = "full" if full else ("partial" if payment["amount_refunded"] else None)
    payment["status"] = "refunded" if full else "captured"


def _refund_entities(state: SandboxState, refund: dict) -> dict:
    return {"refund": refund, "payment": state.payments[refund["payment_id"]]}


async def _announce_refund(state: SandboxState, refund: dict, behaviour: RefundBehaviour) -> None:
    """refund.created now; then, unless the refund is left pending, its settlement after the delay."""
    await deliver_webhook(state, "refund.created", _refund_entities(state, refund), behaviour.webhook_url)
    if behaviour.outcome not in REFUND_OUTCOMES:
        return
    await asyncio.sleep(behaviour.delay)
    await settle_refund(state, refund, behaviour.outcome, behaviour.webhook_url)


async def settle_refund(state: SandboxState, refund: dict, outcome: str, webhook_url: str | None) -> dict:
    refund["status"] = outcome
    if outcome == "failed":
        _count_refund(state.payments[refund["payment_id"]], -refund["amount"])
    return await deliver_webhook(state, f"refund.{outcome}", _refund_entities(state, refund), webhook_url)


async def payment_refunds(request: web.Request) -> web.Response:
    """GET /payments/{id}/refunds[?count=&skip=]: newest first, as Razorpay lists them."""
    state = request.app[SANDBOX]
    payment_id = request.match_info["payment_id"]
    if payment_id not in state.payments:
        return razorpay_error(400, "The id provided does not exist", "id")
    try:
        count, skip = int(request.query.get("count", 10)), int(request.query.get("skip", 0))
    except ValueError:
        return razorpay_error(400, "The count and skip must be integers", "count")
    if not 1 <= count <= 100 or skip < 0:
        return razorpay_error(400, "The count must be between 1 and 100", "count")
    items = sorted((r for r in state.refunds.values() if r["payment_id"] == payment_id),
                   key=lambda r: r["created_at"], reverse=True)[skip:skip + count]
    return web.json_response({"entity": "collection", "count": len(items), "items": items})


async def fetch_refund(request: web.Request) -> web.Response:
    refund = request.app[SANDBOX].refunds.get(request.match_info["refund_id"])
    if not refund:
        return razorpay_error(400, "The id provided does not exist", "id")
    return web.json_response(refund)


async def set_refund_behaviour(request: web.Request) -> web.Response:
    data = await json_object(request) or {}
    outcome, delay, webhook_url = data.get("outcome", "processed"), data.get("delay", 0), data.get("webhookUrl")
    if outcome not in (*REFUND_OUTCOMES, "pending"):
        return control_error("outcome must be processed, failed or pending")
    if not isinstance(delay, int | float) or isinstance(delay, bool) or not 0 <= delay <= 600:
        return control_error("delay must be between 0 and 600 seconds")
    if webhook_url is not None and not isinstance(webhook_url, str):
        return control_error("webhookUrl must be a URL")
    request.app[SANDBOX].refund_behaviour = RefundBehaviour(outcome, float(delay), webhook_url)
    return web.json_response({"outcome": outcome, "delay": delay, "webhookUrl": webhook_url})


async def settle_refund_now(request: web.Request) -> web.Response:
    state = request.app[SANDBOX]
    data = await json_object(request) or {}
    refund = find_entity(state.refunds, data.get("refundId"))
    if not refund:
        return control_error("no such refund", 404)
    if data.get("outcome") not in REFUND_OUTCOMES:
        return control_error("outcome must be processed or failed")
    if refund["status"] != "pending":
        return control_error(f"refund is {refund['status']}", 409)
    return web.json_response(await settle_refund(state, refund, data["outcome"], data.get("webhookUrl")))


async def list_webhooks(request: web.Request) -> web.Response:
    event = request.query.get("event")
    built = [w for w in request.app[SANDBOX].webhooks if event is None or w["event"] == event]
    return web.json_response({"webhooks": built})


def add_routes(app: web.Application) -> None:
    app.router.add_post(f"{PREFIX}/orders", create_order)
    app.router.add_get(f"{PREFIX}/orders", list_orders)
    app.router.add_get(f"{PREFIX}/orders/{{order_id}}", fetch_order)
    app.router.add_get(f"{PREFIX}/orders/{{order_id}}/payments", order_payments)
    app.router.add_post(f"{PREFIX}/payment_links", create_payment_link)
    app.router.add_get(f"{PREFIX}/payment_links", list_payment_links)
    app.router.add_get(f"{PREFIX}/payment_links/{{link_id}}", fetch_payment_link)
    app.router.add_post(f"{PREFIX}/payment_links/{{link_id}}/cancel", cancel_payment_link)
    app.router.add_post(f"{PREFIX}/payments/{{payment_id}}/refund", create_refund)
    app.router.add_get(f"{PREFIX}/payments/{{payment_id}}/refunds", payment_refunds)
    app.router.add_get(f"{PREFIX}/refunds/{{refund_id}}", fetch_refund)
