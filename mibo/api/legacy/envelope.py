"""The panel's envelope for success: {success: true, data, message?}. Its errors are the API's own
answer (mibo.api.http.error_envelope), whose top-level message the panel's toasts read.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mibo.api.http import dumps


def ok(data: Any = None, message: str | None = None, status: int = 200) -> web.Response:
    answer: dict[str, Any] = {"success": True, "data": data}
    if message is not None:
        answer["message"] = message
    return web.Response(text=dumps(answer), status=status, content_type="application/json")
