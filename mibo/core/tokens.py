"""HS256 access and refresh tokens.

Access tokens carry the user and session ids only; roles and centres are read from the
database on each request, so a revoked session or a changed role takes effect at once.
Every token names its audience (`aud`): STAFF for the spec's API and the admin panel, PATIENT
for the website. A verifier says which audience it serves, so a token made for one surface is
refused by the other before the database is asked.

A refresh token also carries its generation in its session's chain of refreshes (mibo.domain
.sessions), so a successor needs no row of its own until it is presented. Refresh tokens are
stored only as a SHA-256 hash (they are long random JWTs, so a fast hash is enough: nothing to
brute-force).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import jwt

from mibo.core.config import Settings

ALGORITHM = "HS256"
ISSUER = "mibo"

STAFF = "STAFF"
PATIENT = "PATIENT"
AUDIENCES = (STAFF, PATIENT)


class TokenError(Exception):
    """The token is missing, malformed, expired, tampered with or of the wrong kind or audience."""


@dataclass(frozen=True)
class Claims:
    user_id: int
    session_id: int
    audience: str
    expires_at: int
    generation: int = 0  # refresh tokens only: the token's place in its session's chain


def _encode(kind: str, user_id: int, session_id: int, audience: str, ttl: int, secret: str, **extra) -> str:
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r}")
    now = int(time.time())
    payload = {
        "sub": str(user_id),
        "sid": str(session_id),
        "typ": kind,
        "aud": audience,
        "iss": ISSUER,
        "iat": now,
        "exp": now + ttl,
        "jti": secrets.token_urlsafe(12),
        **extra,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def _decode(token: str, kind: str, audience: str | tuple[str, ...], secret: str,
            required: tuple[str, ...] = ()) -> dict:
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],  # never trust the token's own "alg" (rejects alg: none)
            issuer=ISSUER,
            audience=list(audience) if isinstance(audience, tuple) else audience,
            options={"require": ["sub", "sid", "typ", "aud", "exp", "iat", *required]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("expired") from None
    except jwt.PyJWTError:
        raise TokenError("invalid") from None
    if payload.get("typ") != kind:
        raise TokenError("wrong token type")
    return payload


def _claims(payload: dict, audience: str, generation: int = 0) -> Claims:
    try:
        return Claims(int(payload["sub"]), int(payload["sid"]), audience, int(payload["exp"]), generation)
    except (TypeError, ValueError):
        raise TokenError("invalid") from None


def access_token(settings: Settings, user_id: int, session_id: int, audience: str = STAFF) -> str:
    return _encode("access", user_id, session_id, audience, settings.jwt_access_ttl, settings.jwt_access_secret)


def refresh_token(settings: Settings, user_id: int, session_id: int, generation: int, audience: str = STAFF) -> str:
    return _encode("refresh", user_id, session_id, audience, settings.jwt_refresh_ttl, settings.jwt_refresh_secret,
                   gen=generation)


def decode_access(settings: Settings, token: str, audience: str) -> Claims:
    return _claims(_decode(token, "access", audience, settings.jwt_access_secret), audience)


def decode_access_any(settings: Settings, token: str) -> Claims:
    """An access token of either audience, with the audience it names (to tell a token of the other
    surface, which is refused with 403, from a token that is no good at all)."""
    payload = _decode(token, "access", AUDIENCES, settings.jwt_access_secret)
    if payload["aud"] not in AUDIENCES:
        raise TokenError("invalid")
    return _claims(payload, payload["aud"])


def decode_refresh(settings: Settings, token: str, audience: str) -> Claims:
    payload = _decode(token, "refresh", audience, settings.jwt_refresh_secret, required=("gen",))
    generation = payload["gen"]
    if type(generation) is not int or generation < 0:
        raise TokenError("invalid")
    return _claims(payload, audience, generation)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
