"""What each handler tells the OpenAPI document about itself (read by mibo/openapi.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from marshmallow import Schema


@dataclass(frozen=True)
class ApiDoc:
    summary: str
    tags: tuple[str, ...] = ()
    body: type[Schema] | None = None
    query: type[Schema] | None = None
    response: type[Schema] | None = None
    many: bool = False  # the response data is a list of `response`
    status: int = 200
    errors: tuple[int, ...] = field(default=())


def documented(summary: str, *, tags=(), body=None, query=None, response=None, many=False, status=200, errors=()):
    """Attach an ApiDoc to a handler; the same schemas validate requests, so the docs cannot drift."""

    def mark(handler):
        handler.api_doc = ApiDoc(summary, tuple(tags), body, query, response, many, status, tuple(errors))
        return handler

    return mark
