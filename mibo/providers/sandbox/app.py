"""The sandbox app: one server for every fake provider, recording each request and applying faults.

It checks the credentials the clients send (the configured ones), the way each provider checks
them, and answers errors (its own and injected faults) in each provider's own shape, which the
client libraries parse.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qsl

from aiohttp import web

from mibo.core.config import Settings
from mibo.providers.sandbox import control, gallabox, google, razorpay
from mibo.providers.sandbox.state import SANDBOX, SandboxState, iso_now

# Each provider by its path prefix: its credential check and its error shape.
PROVIDERS = {"razorpay": razorpay, "gallabox": gallabox, "google": google}
ERRORS = {"razorpay": razorpay.razorpay_error, "gallabox": gallabox.gallabox_error, "google": google.google_error}
MASKED_HEADERS = {"authorization", "apisecret"}


def _recorded_body(raw: bytes, content_type: str):
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    if content_type == "application/json":
        try:
            return json.loads(text)
        except ValueError:
            return text
    if content_type == "application/x-www-form-urlencoded":
        form = dict(parse_qsl(text))
        if "assertion" in form:
            form["assertion"] = "***"  # a signed credential: do not keep it
        return form
    return text


@web.middleware
async def provider_middleware(request: web.Request, handler):
    """Record each provider request, apply a pending fault, then check credentials."""
    provider = request.path.split("/")[1]
    if provider not in PROVIDERS:
        return await handler(request)
    state = request.app[SANDBOX]
    entry = {
        "provider": provider,
        "method": request.method,
        "path": request.path,
        "query": dict(request.query),
        "headers": {name: "***" if name.lower() in MASKED_HEADERS else value
                    for name, value in request.headers.items()},
        "body": _recorded_body(await request.read(), request.content_type),
        "status": None,
        "time": iso_now(),
    }
    state.requests.append(entry)
    # A provider finishes a request whose caller has gone (timed out, disconnected): so does the
    # sandbox, whatever the server does with the handler of a closed connection.
    task = asyncio.ensure_future(_answer(request, handler, state, provider, entry))
    state.tasks.add(task)
    task.add_done_callback(state.tasks.discard)
    return await asyncio.shield(task)


async def _answer(request: web.Request, handler, state: SandboxState, provider: str, entry: dict):
    fault = state.take_fault(provider, request.path, request.method)
    if fault and fault.delay:
        await asyncio.sleep(fault.delay)
    try:
        if fault and fault.status:
            response = ERRORS[provider](fault.status, "sandbox fault")
        else:
            response = PROVIDERS[provider].denied(request, state) or await handler(request)
    except web.HTTPException as exc:  # e.g. a path the sandbox does not speak: 404/405
        entry["status"] = exc.status
        raise
    entry["status"] = response.status
    return response


def create_sandbox_app(settings: Settings) -> web.Application:
    """The sandbox for these settings: it accepts the credentials and signs with the secrets they hold."""
    app = web.Application(middlewares=[provider_middleware])
    app[SANDBOX] = SandboxState(settings)
    for provider in PROVIDERS.values():
        provider.add_routes(app)
    control.add_routes(app)
    app.on_cleanup.append(_cancel_pending_work)
    return app


async def _cancel_pending_work(app: web.Application) -> None:
    for task in list(app[SANDBOX].tasks):
        task.cancel()
