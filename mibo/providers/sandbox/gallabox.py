"""Fake Gallabox: WhatsApp template messages (POST /gallabox/devapi/messages/whatsapp)."""

from __future__ import annotations

import re
import secrets

from aiohttp import web

from mibo.providers.sandbox.state import SANDBOX, SandboxState, iso_now, json_object, same_secret


def gallabox_error(status: int, message: str) -> web.Response:
    return web.json_response({"statusCode": status, "message": message}, status=status)


def denied(request: web.Request, state: SandboxState) -> web.Response | None:
    settings = state.settings
    if same_secret(request.headers.get("apiKey"), settings.gallabox_api_key) and same_secret(
            request.headers.get("apiSecret"), settings.gallabox_api_secret):
        return None
    return gallabox_error(401, "Unauthorized")


def _gallabox_problem(data: dict | None, channel_id: str) -> str | None:
    if data is None:
        return "body must be a JSON object"
    recipient = data.get("recipient")
    whatsapp = data.get("whatsapp")
    template = whatsapp.get("template") if isinstance(whatsapp, dict) else None
    if data.get("channelId") != channel_id:
        return "channelId is not a channel of this account"
    if data.get("channelType") != "whatsapp":
        return "channelType must be whatsapp"
    if not isinstance(recipient, dict) or not isinstance(recipient.get("name"), str) or not recipient["name"]:
        return "recipient.name is required"
    if not isinstance(recipient.get("phone"), str) or not re.fullmatch(r"[1-9]\d{9,14}", recipient["phone"]):
        return "recipient.phone must be digits with the country code, without +"
    if not isinstance(template, dict) or whatsapp.get("type") != "template":
        return "whatsapp.type must be template, with whatsapp.template"
    if not isinstance(template.get("templateName"), str) or not template["templateName"]:
        return "whatsapp.template.templateName is required"
    values = template.get("bodyValues", {})
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        return "whatsapp.template.bodyValues must be an object of strings"
    return None


async def gallabox_send(request: web.Request) -> web.Response:
    state = request.app[SANDBOX]
    data = await json_object(request)
    problem = _gallabox_problem(data, state.settings.gallabox_channel_id)
    if problem:
        return gallabox_error(400, problem)
    template = data["whatsapp"]["template"]
    message = {"id": secrets.token_hex(12), "phone": data["recipient"]["phone"],
               "name": data["recipient"]["name"], "templateName": template["templateName"],
               "bodyValues": template.get("bodyValues", {}), "time": iso_now()}
    state.messages.append(message)
    return web.json_response({"id": message["id"], "status": "ACCEPTED",
                              "message": "Message received successfully"}, status=202)


async def list_messages(request: web.Request) -> web.Response:
    """GET /_sandbox/gallabox/messages: the WhatsApp messages accepted so far."""
    return web.json_response({"messages": request.app[SANDBOX].messages})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/gallabox/devapi/messages/whatsapp", gallabox_send)
