"""The panel's envelope: success is {success: true, data, message?}; an error is the one ApiError
family's answer with its message also at the top level, where the panel's toasts read it:
{success: false, message, error: {code, message, details}}.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mibo.api.http import dumps

ERROR_SCHEMA = {
    "type": "object",
    "required": ["success", "message", "error"],
    "properties": {
        "success": {"type": "boolean", "enum": [False]},
        "message": {"type": "string", "description": "The same as error.message."},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "example": "VALIDATION_ERROR"},
                "message": {"type": "string"},
                "details": {"description": "For VALIDATION_ERROR: {field: [messages]}"},
            },
        },
    },
}


def error_envelope(body: dict[str, Any]) -> dict[str, Any]:
    """The answer for an error whose {code, message, details} is `body`."""
    return {"success": False, "message": body["message"], "error": body}


def ok(data: Any = None, message: str | None = None, status: int = 200) -> web.Response:
    answer: dict[str, Any] = {"success": True, "data": data}
    if message is not None:
        answer["message"] = message
    return web.Response(text=dumps(answer), status=status, content_type="application/json")
