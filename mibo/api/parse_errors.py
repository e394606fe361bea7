"""Requests the HTTP parser refuses (a malformed request line, oversized headers, broken chunking)
never reach the app's middlewares: aiohttp answers them itself, in plain text, and logs them at
ERROR with a traceback. Here they get the API's error envelope and one WARNING line instead.

aiohttp offers no setting for this; its connection handler is the one place, so the app's server
factory is wrapped to make connections with the handler below (see answer_parse_errors_as_json).
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server

from mibo.api.http import dumps, error_envelope
from mibo.core.logs import log_event

log = logging.getLogger(__name__)

SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


class EnvelopeRequestHandler(RequestHandler):
    def handle_error(self, request, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if status == 500:  # an error that escaped the app: ours, keep aiohttp's logging and answer
            return super().handle_error(request, status, exc, message)
        if request.writer.output_size > 0:
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        reason = (getattr(exc, "message", None) or message or "").splitlines()[0][:200] if (exc or message) else ""
        log_event(log, logging.WARNING, "request refused by the HTTP parser", status=status,
                  error=type(exc).__name__ if exc else None, reason=reason)
        text = "The request timed out" if status == 504 else "The request could not be parsed"
        body = error_envelope("BAD_HTTP_REQUEST" if status < 500 else "TIMEOUT", text,
                              {"reason": reason} if reason else None)
        response = web.Response(status=status, text=dumps(body),
                                content_type="application/json", headers=SECURITY_HEADERS)
        response.force_close()
        return response


class EnvelopeServer(Server):
    def __call__(self) -> RequestHandler:
        return EnvelopeRequestHandler(self, loop=self._loop, **self._kwargs)


def answer_parse_errors_as_json(app: web.Application) -> None:
    """Make every server built for `app` (run_app, test servers) use EnvelopeRequestHandler."""
    make_handler = app._make_handler

    def make_envelope_server(**kwargs) -> Server:
        server = make_handler(**kwargs)
        server.__class__ = EnvelopeServer  # same state; only the connection handler class differs
        return server

    app._make_handler = make_envelope_server
