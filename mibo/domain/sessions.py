"""Sessions: opening one for a verified user, refreshing it, ending it, and who holds a live one.

Every sign-in surface calls these: the staff API (/api/auth) and the patient website's routes.
A session belongs to one audience (mibo.core.tokens: STAFF or PATIENT), which is its user's type;
its tokens carry the same audience, and every check below asks for the audience it serves, so a
patient's session is refused on staff routes and a staff session on patient routes.

Refresh rotates the refresh token and detects reuse, in a way that real clients survive (both real
frontends keep the token they got at sign-in and fire refreshes in parallel):

- sign-in issues generation 0; refreshing with generation g answers with a successor of g + 1;
- a token is retired only once a successor of it has been used: the session remembers the highest
  generation presented, and a client that never adopts a successor keeps working until the
  session's absolute expiry (set at sign-in, never extended);
- presenting a retired token is reuse: someone else holds a copy, and the whole session ends;
- except within REUSE_GRACE_SECONDS of that same token's last use before it was retired: parallel
  tabs and parallel 401s bring the same token a moment after one of them adopted its successor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mibo.core import db, tokens
from mibo.core.actor import Actor
from mibo.core.config import Settings
from mibo.core.errors import ApiError
from mibo.core.logs import log_event

log = logging.getLogger(__name__)

REUSE_GRACE_SECONDS = 5

# --- SQL ------------------------------------------------------------------------

USER_BY_PHONE = "SELECT id, password_hash, user_type, is_active FROM users WHERE phone = %s"

USER_BY_USERNAME = "SELECT id, password_hash, user_type, is_active FROM users WHERE lower(username) = lower(%s)"

NEXT_SESSION_ID = "SELECT nextval('auth_sessions_id_seq') AS id"

INSERT_SESSION = """
INSERT INTO auth_sessions (id, user_id, audience, refresh_token_hash, expires_at)
VALUES (%s, %s, %s, %s, now() + make_interval(secs => %s))
"""

SESSION_FOR_REFRESH = """
SELECT s.refresh_generation, s.previous_token_hash,
       s.previous_rotated_at > now() - make_interval(secs => %(grace)s) AS previous_in_grace,
       s.revoked_at IS NOT NULL AS revoked, s.expires_at <= now() AS expired,
       u.is_active AND u.user_type = s.audience AS user_ok
FROM auth_sessions s JOIN users u ON u.id = s.user_id
WHERE s.id = %(session_id)s AND s.user_id = %(user_id)s AND s.audience = %(audience)s
FOR UPDATE OF s
"""

# A successor was used: the generation it ends is retired, but its last token stays in grace a moment.
BEGIN_GENERATION = """
UPDATE auth_sessions
SET refresh_generation = %s, previous_token_hash = refresh_token_hash, previous_rotated_at = rotated_at
WHERE id = %s
"""

RECORD_PRESENTED = "UPDATE auth_sessions SET refresh_token_hash = %s, rotated_at = now() WHERE id = %s"

REVOKE_SESSION = """
UPDATE auth_sessions SET revoked_at = now(), revoked_reason = %s WHERE id = %s AND revoked_at IS NULL
"""

# The session must be live and belong to an active user of its audience; roles, centres and
# profiles come from the database, never from the token.
LIVE_SESSION_ACTOR = """
SELECT
    COALESCE((SELECT array_agg(DISTINCT r.name) FROM user_roles ur JOIN roles r ON r.id = ur.role_id
              WHERE ur.user_id = u.id AND ur.is_active), '{}') AS roles,
    COALESCE((SELECT array_agg(csa.centre_id) FROM centre_staff_assignments csa
              WHERE csa.user_id = u.id AND csa.is_active), '{}') AS centre_ids,
    (SELECT cp.id FROM clinician_profiles cp WHERE cp.user_id = u.id) AS clinician_id,
    (SELECT pp.id FROM patient_profiles pp WHERE pp.user_id = u.id) AS patient_id,
    EXTRACT(EPOCH FROM s.expires_at) AS session_expires_at
FROM auth_sessions s
JOIN users u ON u.id = s.user_id
WHERE s.id = %s AND s.user_id = %s AND s.audience = %s AND s.revoked_at IS NULL AND s.expires_at > now()
  AND u.is_active AND u.user_type = s.audience
"""


# --- users who may sign in ---------------------------------------------------------


async def user_by_phone(cur, phone: str) -> dict | None:
    return await db.fetch_one(cur, USER_BY_PHONE, (phone,))


async def user_by_username(cur, username: str) -> dict | None:
    return await db.fetch_one(cur, USER_BY_USERNAME, (username,))


def may_sign_in(user: dict | None, audience: str) -> bool:
    return user is not None and user["is_active"] and user["user_type"] == audience


def ensure_may_sign_in(user: dict, audience: str) -> None:
    """Called only once the credentials were proven, so these answers reveal nothing to a guesser."""
    if user["user_type"] != audience:
        if audience == tokens.STAFF:
            raise ApiError.forbidden("Patients sign in on the Mibo website, not the admin panel", "STAFF_ONLY")
        raise ApiError.forbidden("Staff sign in on the admin panel, not the Mibo website", "PATIENT_ONLY")
    if not user["is_active"]:
        raise ApiError.forbidden("This account has been deactivated", "ACCOUNT_DISABLED")


# --- opening, refreshing, ending ------------------------------------------------------


@dataclass(frozen=True)
class Tokens:
    session_id: int
    access_token: str
    refresh_token: str


async def open_session(cur, settings: Settings, user: dict, audience: str) -> Tokens:
    """Open a session for a user whose credentials were just verified (users row: id, user_type,
    is_active); 403 if the user may not sign in to this audience."""
    ensure_may_sign_in(user, audience)
    session_id = await db.fetch_value(cur, NEXT_SESSION_ID)
    refresh = tokens.refresh_token(settings, user["id"], session_id, 0, audience)
    await db.execute(cur, INSERT_SESSION, (session_id, user["id"], audience, tokens.token_hash(refresh),
                                           settings.jwt_refresh_ttl))
    log_event(log, logging.INFO, "signed in", userId=user["id"], sessionId=session_id, audience=audience)
    return Tokens(session_id, tokens.access_token(settings, user["id"], session_id, audience), refresh)


@dataclass(frozen=True)
class Refreshed:
    """What a refresh came to. Raise `error` after the transaction commits: a detected reuse
    revokes the session in that same transaction."""

    tokens: Tokens | None = None
    error: ApiError | None = None
    session_id: int | None = None  # the session the token named, once it could be read
    revoked: bool = False  # this refresh ended the session


def _refused(message: str, code: str, session_id: int | None = None, revoked: bool = False) -> Refreshed:
    return Refreshed(error=ApiError.unauthorized(message, code), session_id=session_id, revoked=revoked)


async def refresh(cur, settings: Settings, presented: str, audience: str) -> Refreshed:
    """New tokens for a refresh token of this audience, by the rules of the module docstring."""
    try:
        claims = tokens.decode_refresh(settings, presented, audience)
    except tokens.TokenError:
        return _refused("Invalid or expired refresh token", "INVALID_TOKEN")
    session_id, generation = claims.session_id, claims.generation
    session = await db.fetch_one(cur, SESSION_FOR_REFRESH, {
        "session_id": session_id, "user_id": claims.user_id, "audience": audience, "grace": REUSE_GRACE_SECONDS})
    if session is None or session["revoked"] or session["expired"]:
        return _refused("The session has ended; sign in again", "SESSION_REVOKED", session_id)
    presented_hash = tokens.token_hash(presented)
    current = session["refresh_generation"]
    in_grace = presented_hash == session["previous_token_hash"] and session["previous_in_grace"]
    if not (generation in (current, current + 1) or in_grace):
        # A retired token came back: someone holds a copy. End the whole session.
        await revoke(cur, session_id, "REUSE_DETECTED")
        log_event(log, logging.WARNING, "refresh token reuse detected", sessionId=session_id, audience=audience)
        return _refused("This refresh token was already used; sign in again", "TOKEN_REUSED", session_id, True)
    if not session["user_ok"]:
        return Refreshed(error=ApiError.forbidden("This account has been deactivated", "ACCOUNT_DISABLED"),
                         session_id=session_id)
    if generation == current + 1:
        await db.execute(cur, BEGIN_GENERATION, (generation, session_id))
    if generation >= current:  # a token in grace changes nothing: it is retired already
        await db.execute(cur, RECORD_PRESENTED, (presented_hash, session_id))
    successor = tokens.refresh_token(settings, claims.user_id, session_id, generation + 1, audience)
    access = tokens.access_token(settings, claims.user_id, session_id, audience)
    return Refreshed(tokens=Tokens(session_id, access, successor), session_id=session_id)


async def revoke(cur, session_id: int, reason: str) -> bool:
    """End a session (LOGOUT, REUSE_DETECTED, ...); False if it had ended already."""
    return await db.execute(cur, REVOKE_SESSION, (reason, session_id)) == 1


# --- who holds a live session ------------------------------------------------------------


async def live_actor(cur, claims: tokens.Claims) -> tuple[Actor, float] | None:
    """The Actor of the session an access token names, with the instant the session ends; None
    when the session has ended (revoked or expired), the user is inactive, or either belongs to
    another audience than the token's."""
    row = await db.fetch_one(cur, LIVE_SESSION_ACTOR, (claims.session_id, claims.user_id, claims.audience))
    if row is None:
        return None
    actor = Actor(
        user_id=claims.user_id,
        session_id=claims.session_id,
        roles=frozenset(row["roles"]),
        centre_ids=frozenset(row["centre_ids"]),
        clinician_id=row["clinician_id"],
        patient_id=row["patient_id"] if claims.audience == tokens.PATIENT else None,
    )
    return actor, float(row["session_expires_at"])
