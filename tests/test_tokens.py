"""Access and refresh tokens: round trips, kinds kept apart, expiry, foreign keys and algorithms."""

import time

import jwt
import pytest

from mibo.core import config, tokens

GOOD_SECRET = "x" * 40
DEV = {"APP_ENV": "development"}


def test_access_token_round_trip_and_kinds():
    settings = config.load(DEV)
    access = tokens.access_token(settings, 7, 3)
    claims = tokens.decode_access(settings, access, tokens.STAFF)
    assert (claims.user_id, claims.session_id) == (7, 3)
    with pytest.raises(tokens.TokenError):
        tokens.decode_refresh(settings, access, tokens.STAFF)
    refresh = tokens.refresh_token(settings, 7, 3, 0)
    with pytest.raises(tokens.TokenError):
        tokens.decode_access(settings, refresh, tokens.STAFF)
    assert tokens.decode_refresh(settings, refresh, tokens.STAFF).session_id == 3


def test_tokens_expire_and_reject_other_keys_and_algorithms():
    settings = config.load(DEV)
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.decode_access(settings, tokens.access_token(settings.replace(jwt_access_ttl=-1), 1, 1), tokens.STAFF)
    foreign = tokens.access_token(settings.replace(jwt_access_secret=GOOD_SECRET), 1, 1)
    with pytest.raises(tokens.TokenError):
        tokens.decode_access(settings, foreign, tokens.STAFF)
    now = int(time.time())
    unsigned = jwt.encode({"sub": "1", "sid": "1", "typ": "access", "aud": "STAFF", "iss": "mibo", "iat": now,
                           "exp": now + 60}, None, algorithm="none")
    with pytest.raises(tokens.TokenError):
        tokens.decode_access(settings, unsigned, tokens.STAFF)


def test_each_token_is_unique():
    settings = config.load(DEV)
    assert tokens.refresh_token(settings, 1, 1, 0) != tokens.refresh_token(settings, 1, 1, 0)
