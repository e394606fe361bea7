"""What each handler tells the OpenAPI document about itself (read by mibo/openapi.py), and the
limits that come with the route: the largest body it reads."""

from __future__ import annotations

from dataclasses import dataclass, field

from marshmallow import Schema

KB = 1024
# A request body is read only up to its route's limit. Nothing here needs megabytes: the largest
# bodies are a week of availability rules and a clinical note.
DEFAULT_MAX_BODY = 16 * KB
MAX_BODY_CEILING = 64 * KB
# A file upload (a clinician's picture) is the one larger body; its own setting bounds it further.
MAX_UPLOAD_CEILING = 10 * 1024 * KB
MULTIPART = "multipart/form-data"


@dataclass(frozen=True)
class ApiDoc:
    summary: str
    tags: tuple[str, ...] = ()
    body: type[Schema] | None = None
    query: type[Schema] | None = None
    # The response data's schema; or, for data no one schema dumps (a mapping of lists, a null), its JSON
    # Schema, which may name marshmallow schemas in `properties` and `items`.
    response: type[Schema] | dict | None = None
    many: bool = False  # the response data is a list of `response`
    status: int = 200
    errors: tuple[int, ...] = field(default=())
    max_body: int = DEFAULT_MAX_BODY
    description: str = ""  # more than the summary, in words (the roles are added by the document)
    headers: tuple[tuple[str, str, bool], ...] = ()  # (header, description, required) the route reads
    body_optional: bool = False
    paged: bool = False  # the answer carries the list envelope's meta (total, limit, offset)
    raw_body: dict | None = None  # a body described as JSON Schema, for a body no schema loads
    text_response: str | None = None  # the media type of an answer that is not the JSON envelope
    cached: bool = False  # answered with an ETag; If-None-Match with it answers 304
    body_media_type: str = "application/json"


def documented(summary: str, *, tags=(), body=None, query=None, response=None, many=False, status=200, errors=(),
               max_body: int = DEFAULT_MAX_BODY, description: str = "", headers=(), body_optional=False,
               paged=False, raw_body=None, text_response=None, cached=False,
               body_media_type="application/json"):
    """Attach an ApiDoc to a handler; the same schemas validate requests, so the docs cannot drift."""
    ceiling = MAX_UPLOAD_CEILING if body_media_type == MULTIPART else MAX_BODY_CEILING
    if not 0 < max_body <= ceiling:
        raise ValueError(f"max_body must be between 1 and {ceiling} bytes")

    def mark(handler):
        handler.api_doc = ApiDoc(summary, tuple(tags), body, query, response, many, status, tuple(errors), max_body,
                                 description, tuple(headers), body_optional, paged, raw_body, text_response,
                                 cached, body_media_type)
        return handler

    return mark


def max_body(handler) -> int:
    doc = getattr(handler, "api_doc", None)
    return doc.max_body if doc is not None else DEFAULT_MAX_BODY
