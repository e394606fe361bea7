"""Request parsing and the success envelope.

Bodies are JSON objects validated by a marshmallow schema; anything else is a 4xx naming
what was wrong. Success is always {"success": true, "data": ...}.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import Any

from aiohttp import web
from marshmallow import Schema, ValidationError

from mibo.api.apidoc import max_body
from mibo.core import listing
from mibo.core.errors import ApiError
from schemas.base import from_query


def _default(value: Any):
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise TypeError("naive datetime in a response")  # our bug: every instant carries a zone
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_default, separators=(",", ":"))


def error_envelope(code: str, message: str, details: Any = None) -> dict:
    """The body of every error answer. `message` is given twice, at the top and in `error`: the
    patient website reads the one, the admin panel and the spec's clients the other."""
    error = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"success": False, "message": message, "error": error}


def ok(data: Any = None, status: int = 200, headers=None) -> web.Response:
    return web.Response(
        text=dumps({"success": True, "data": data}), status=status, content_type="application/json", headers=headers
    )


def ok_page(items: list, total: int, limit: int, offset: int) -> web.Response:
    """A page of a list: data is the items, meta says where the page lies in the whole.

    Totals are counted up to listing.COUNT_CAP; a larger one is given as the cap, marked as a lower bound.
    """
    meta = {"total": min(total, listing.COUNT_CAP), "limit": limit, "offset": offset}
    if total > listing.COUNT_CAP:
        meta["totalIsLowerBound"] = True
    return web.Response(text=dumps({"success": True, "data": items, "meta": meta}), content_type="application/json")


def ok_json_text(data_json: str, status: int = 200) -> web.Response:
    """Wrap JSON that PostgreSQL already built, without parsing it again."""
    return web.Response(
        text='{"success":true,"data":' + data_json + "}", status=status, content_type="application/json"
    )


def too_large(limit: int) -> ApiError:
    return ApiError(413, "PAYLOAD_TOO_LARGE", f"The request body is too large (at most {limit} bytes here)")


async def read_body(request: web.Request) -> bytes:
    """The body, read only up to the route's limit (apidoc.max_body): a declared length over it is
    refused before a byte is read, a streamed one as soon as it passes the limit."""
    limit = max_body(request.match_info.handler)
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    chunks, size = [], 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError.bad_request("The body is not valid JSON", code="INVALID_JSON") from None
    except RecursionError:  # json nests by recursion: '[[[[…' thousands deep
        raise ApiError.bad_request("The body is nested too deeply", code="INVALID_JSON") from None


async def read_json(request: web.Request, schema: Schema) -> dict[str, Any]:
    """Parse and validate a JSON body: 415 for another content type, 413 past the route's limit,
    400 for bad JSON or fields."""
    if request.content_type != "application/json":
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "Send the body as application/json")
    raw = await read_body(request)
    body = parse_json(raw) if raw else None
    if not isinstance(body, dict):
        raise ApiError.bad_request("The body must be a JSON object", code="INVALID_JSON")
    return load(schema, body)


def read_query(request: web.Request, schema: Schema) -> dict[str, Any]:
    """Validate query-string parameters (repeated keys are not supported; the last one wins)."""
    return load(schema, from_query(schema, dict(request.query)))


# An error answer names at most this many fields (or list items) at each level of the body.
MAX_DETAIL_ENTRIES = 20


def capped(details: Any) -> Any:
    """Validation messages, at most MAX_DETAIL_ENTRIES per level: a list of thousands of bad items
    is answered with the first few, not an answer as large as the request."""
    if isinstance(details, dict):
        items = list(details.items())
        kept = {key: capped(value) for key, value in items[:MAX_DETAIL_ENTRIES]}
        if len(items) > MAX_DETAIL_ENTRIES:
            kept["_more"] = [f"{len(items) - MAX_DETAIL_ENTRIES} more entries not shown."]
        return kept
    if isinstance(details, list):
        return [capped(item) for item in details[:MAX_DETAIL_ENTRIES]]
    return details


def load(schema: Schema, data: dict[str, Any]) -> dict[str, Any]:
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise ApiError.validation(capped(exc.normalized_messages())) from None


def path_id(request: web.Request, name: str = "id") -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 18:
        raise ApiError.validation({name: ["Must be a positive integer id."]})
    return int(raw)
