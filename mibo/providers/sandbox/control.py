"""The sandbox's control endpoints, for tests and demos (not part of any provider's API).

    GET    /_sandbox/requests[?provider=]   every provider request: method, path, body, status, time
    DELETE /_sandbox/requests               forget recorded requests, messages and pending faults
    POST   /_sandbox/faults                 {provider, status?, count=1, delay=0, path?}: the next
                                            `count` matching calls wait `delay` s, then fail with
                                            `status` (or proceed normally when no status)
    GET    /_sandbox/gallabox/messages      WhatsApp messages accepted
    POST   /_sandbox/razorpay/pay           {orderId | paymentLinkId, outcome, webhookUrl?, amount?,
                                            currency?}: a payment, and its signed webhook
    POST   /_sandbox/razorpay/expire-link   {paymentLinkId, webhookUrl?}
    PUT    /_sandbox/razorpay/refunds       {outcome: processed | failed | pending, delay=0, webhookUrl?}:
                                            what happens to each new refund, where its webhooks go
    POST   /_sandbox/razorpay/settle-refund {refundId, outcome: processed | failed, webhookUrl?}
    GET    /_sandbox/razorpay/webhooks      every webhook built (event, headers, body, delivery)
"""

from __future__ import annotations

from aiohttp import web

from mibo.providers.sandbox import gallabox, razorpay
from mibo.providers.sandbox.state import SANDBOX, Fault, control_error, is_int, json_object

PROVIDERS = ("razorpay", "gallabox", "google")


async def list_requests(request: web.Request) -> web.Response:
    provider = request.query.get("provider")
    recorded = [r for r in request.app[SANDBOX].requests if provider is None or r["provider"] == provider]
    return web.json_response({"requests": recorded})


async def reset_requests(request: web.Request) -> web.Response:
    state = request.app[SANDBOX]
    state.requests.clear()
    state.messages.clear()
    state.faults.clear()
    state.webhooks.clear()
    return web.Response(status=204)


async def add_fault(request: web.Request) -> web.Response:
    data = await json_object(request) or {}
    provider, status = data.get("provider"), data.get("status")
    count, delay, path = data.get("count", 1), data.get("delay", 0), data.get("path", "")
    method = data.get("method", "")
    if provider not in PROVIDERS:
        return control_error(f"provider must be one of {', '.join(PROVIDERS)}")
    if status is not None and not (is_int(status) and 400 <= status <= 599):
        return control_error("status must be an HTTP error status (400-599)")
    if not is_int(count) or count < 1:
        return control_error("count must be a positive integer")
    if not isinstance(delay, int | float) or isinstance(delay, bool) or not 0 <= delay <= 120:
        return control_error("delay must be between 0 and 120 seconds")
    if not isinstance(path, str):
        return control_error("path must be a path prefix such as /google/calendar")
    if method not in ("", "GET", "POST", "PUT", "PATCH", "DELETE"):
        return control_error("method must be an HTTP method such as POST")
    if status is None and not delay:
        return control_error("give a status, a delay, or both")
    request.app[SANDBOX].faults.append(Fault(provider, status, count, float(delay), path, method))
    return web.json_response({"provider": provider, "status": status, "count": count, "delay": delay,
                              "path": path, "method": method}, status=201)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_sandbox/requests", list_requests)
    app.router.add_delete("/_sandbox/requests", reset_requests)
    app.router.add_post("/_sandbox/faults", add_fault)
    app.router.add_get("/_sandbox/gallabox/messages", gallabox.list_messages)
    app.router.add_post("/_sandbox/razorpay/pay", razorpay.simulate_payment)
    app.router.add_post("/_sandbox/razorpay/expire-link", razorpay.expire_link)
    app.router.add_put("/_sandbox/razorpay/refunds", razorpay.set_refund_behaviour)
    app.router.add_post("/_sandbox/razorpay/settle-refund", razorpay.settle_refund_now)
    app.router.add_get("/_sandbox/razorpay/webhooks", razorpay.list_webhooks)
