"""Public answers (the website's catalogue) kept by each API process for a few seconds.

Every visitor of the website reads the same catalogue, without a token. Building it costs a
query and a serialisation of every clinician; answering from memory costs a dictionary look-up,
so the catalogue keeps up with a bare handler. A change (a new fee, a clinician removed) reaches
the site within PUBLIC_CACHE_SECONDS (0: never kept); booking still checks the clinician itself.
Slots are never kept: a slot just booked must not be shown free.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from mibo.api.http import dumps

MAX_ENTRIES = 1000


def success_text(data: Any) -> tuple[str, str]:
    """The success envelope of `data` as JSON text, and its strong ETag."""
    text = dumps({"success": True, "data": data})
    return text, '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


class PublicAnswers:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self._entries: dict[str, tuple[float, str, str]] = {}

    async def get(self, key: str, build: Callable[[], Awaitable[Any]]) -> tuple[str, str]:
        """(body, ETag) of the success answer for `key`, from memory or built now by `build()`
        (which raises for an error answer: errors are not kept)."""
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1], entry[2]
        text, etag = success_text(await build())
        if self.seconds > 0:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (now + self.seconds, text, etag)
        return text, etag


PUBLIC_ANSWERS = web.AppKey("public_answers", PublicAnswers)


def answered(request: web.Request, text: str, etag: str, cache_control: str) -> web.Response:
    """The answer with its ETag and Cache-Control; 304 without a body when If-None-Match names it."""
    headers = {"ETag": etag, "Cache-Control": cache_control}
    wanted = request.headers.get("If-None-Match", "")
    if wanted.strip() == "*" or etag in (tag.strip().removeprefix("W/") for tag in wanted.split(",")):
        return web.Response(status=304, headers=headers)
    return web.Response(text=text, content_type="application/json", headers=headers)


async def cached(request: web.Request, build: Callable[[], Awaitable[Any]], cache_control: str) -> web.Response:
    """A public answer kept per process for its path and query (see the module docstring)."""
    text, etag = await request.app[PUBLIC_ANSWERS].get(request.path_qs, build)
    return answered(request, text, etag, cache_control)


def fresh(request: web.Request, data: Any, cache_control: str) -> web.Response:
    """A public answer built for this request only, with its ETag (the slots)."""
    return answered(request, *success_text(data), cache_control)
