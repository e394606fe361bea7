"""HS256 access and refresh tokens.

Access tokens carry the user and session ids only; roles and centres are read from the
database on each request, so a revoked session or a changed role takes effect at once.
Refresh tokens are stored only as a SHA-256 hash (they are long random JWTs, so a fast hash
is enough: nothing to brute-force).
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


class TokenError(Exception):
    """The token is missing, malformed, expired, tampered with or of the wrong kind."""


@dataclass(frozen=True)
class Claims:
    user_id: int
    session_id: int
    expires_at: int


def _encode(kind: str, user_id: int, session_id: int, ttl: int, secret: str) -> str:
    now = int(time.time())
    payload = {
        "sub": str(user_id),
        "sid": str(session_id),
        "typ": kind,
        "iss": ISSUER,
        "iat": now,
        "exp": now + ttl,
        "jti": secrets.token_urlsafe(12),
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def _decode(token: str, kind: str, secret: str) -> Claims:
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],  # never trust the token's own "alg" (rejects alg: none)
            issuer=ISSUER,
            options={"require": ["sub", "sid", "typ", "exp", "iat"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("expired") from None
    except jwt.PyJWTError:
        raise TokenError("invalid") from None
    if payload.get("typ") != kind:
        raise TokenError("wrong token type")
    try:
        return Claims(int(payload["sub"]), int(payload["sid"]), int(payload["exp"]))
    except (TypeError, ValueError):
        raise TokenError("invalid") from None


def access_token(settings: Settings, user_id: int, session_id: int) -> str:
    return _encode("access", user_id, session_id, settings.jwt_access_ttl, settings.jwt_access_secret)


def refresh_token(settings: Settings, user_id: int, session_id: int) -> str:
    return _encode("refresh", user_id, session_id, settings.jwt_refresh_ttl, settings.jwt_refresh_secret)


def decode_access(settings: Settings, token: str) -> Claims:
    return _decode(token, "access", settings.jwt_access_secret)


def decode_refresh(settings: Settings, token: str) -> Claims:
    return _decode(token, "refresh", settings.jwt_refresh_secret)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
