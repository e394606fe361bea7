"""The sign-in limits (mibo.api.ratelimit): who the client is behind proxies, failed logins per
account across clients, OTPs per phone and per client, answered alike for every number."""

from __future__ import annotations

import ipaddress

import pytest

from mibo.api.app import init_app
from mibo.api.ratelimit import forwarded_client
from mibo.core import config
from tests.factories import PASSWORD


@pytest.fixture
def make_client(aiohttp_client, settings, pool, redis, otp_sender):
    async def make(**changes):
        return await aiohttp_client(init_app(settings.replace(**changes), pool=pool, redis=redis,
                                             otp_sender=otp_sender))
    return make


def via(client_address: str, spoofed: str = "") -> dict[str, str]:
    """Headers of a request that reached us through our proxy (the test client is that proxy),
    from `client_address`, which may itself have sent an X-Forwarded-For of its own choosing."""
    return {"X-Forwarded-For": f"{spoofed}, {client_address}" if spoofed else client_address}


async def password_login(client, username, password, headers=None):
    return await client.post("/api/auth/login/username-password", json={"username": username, "password": password},
                             headers=headers)


async def rate_limited(resp) -> int:
    assert resp.status == 429, await resp.text()
    body = await resp.json()
    assert body["error"]["code"] == "RATE_LIMITED"
    retry_after = int(resp.headers["Retry-After"])
    assert retry_after >= 1 and body["error"]["details"]["retryAfter"] == retry_after
    return retry_after


# The development settings: defaults are refused everywhere else.
DEV = {"APP_ENV": "test"}


# --- who the client is --------------------------------------------------------------------


def test_the_defaults():
    settings = config.load(DEV)
    assert (settings.rate_limit_account_failures, settings.rate_limit_account_window) == (10, 900)
    assert (settings.rate_limit_otp_per_phone_per_hour, settings.trust_proxy, settings.trusted_proxy_hops) == (
        5, False, 1)


@pytest.mark.parametrize("environ, forwarded, expected", [
    ({}, "6.6.6.6", "10.0.0.1"),  # not behind a proxy: the header is the client's to invent
    ({"TRUST_PROXY": "true"}, "6.6.6.6, 203.0.113.7", "203.0.113.7"),
    ({"TRUST_PROXY": "true"}, "203.0.113.7", "203.0.113.7"),
    ({"TRUST_PROXY": "true"}, "", "10.0.0.1"),
    ({"TRUST_PROXY": "true", "TRUSTED_PROXY_HOPS": "2"}, "6.6.6.6, 203.0.113.7, 10.0.0.5", "203.0.113.7"),
    ({"TRUST_PROXY": "true", "TRUSTED_PROXY_HOPS": "3"}, "203.0.113.7", "203.0.113.7"),
    ({"TRUST_PROXY": "true", "TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1"},
     "6.6.6.6, 203.0.113.7, 192.168.1.1, 10.0.0.5", "203.0.113.7"),
    ({"TRUST_PROXY": "true", "TRUSTED_PROXIES": "10.0.0.0/8"}, "not-an-address, 10.0.0.5", "not-an-address"),
    ({"TRUST_PROXY": "true", "TRUSTED_PROXIES": "10.0.0.0/8"}, "10.0.0.7, 10.0.0.5", "10.0.0.7"),
    ({"TRUST_PROXY": "true", "TRUSTED_PROXIES": "2001:db8::/32"}, "2001:db9::1", "2001:db9::1"),
])
def test_the_client_is_read_from_the_right_past_our_proxies(environ, forwarded, expected):
    settings = config.load({**DEV, **environ})
    remote = "2001:db8::9" if "2001" in environ.get("TRUSTED_PROXIES", "") else "10.0.0.1"
    assert forwarded_client(settings, remote, forwarded) == expected


def test_a_direct_caller_outside_the_proxy_ranges_is_its_own_client():
    settings = config.load({**DEV, "TRUST_PROXY": "true", "TRUSTED_PROXIES": "10.0.0.0/8"})
    assert forwarded_client(settings, "198.51.100.4", "6.6.6.6") == "198.51.100.4"


@pytest.mark.parametrize("environ, named", [
    ({"TRUST_PROXY": "true", "TRUSTED_PROXIES": "10.0.0.0/33"}, "TRUSTED_PROXIES"),
    ({"TRUST_PROXY": "true", "TRUSTED_PROXIES": " , "}, "TRUSTED_PROXIES"),
    ({"TRUSTED_PROXIES": "10.0.0.0/8"}, "TRUSTED_PROXIES"),
    ({"TRUSTED_PROXY_HOPS": "0"}, "TRUSTED_PROXY_HOPS"),
    ({"RATE_LIMIT_ACCOUNT_WINDOW": "0"}, "RATE_LIMIT_ACCOUNT_WINDOW"),
    ({"RATE_LIMIT_OTP_PER_PHONE_PER_HOUR": "0"}, "RATE_LIMIT_OTP_PER_PHONE_PER_HOUR"),
])
def test_bad_proxy_and_limit_settings_are_named(environ, named):
    with pytest.raises(config.ConfigError, match=named):
        config.load({**DEV, **environ})


def test_proxy_ranges_are_parsed_once():
    settings = config.load({**DEV, "TRUST_PROXY": "true", "TRUSTED_PROXIES": "10.0.0.0/8,fd00::/8"})
    assert settings.trusted_proxies == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))


async def test_a_forged_forwarded_for_does_not_escape_the_client_limit(make_client, redis):
    for extra in ({}, {"trusted_proxies": (ipaddress.ip_network("127.0.0.0/8"),)}):
        client = await make_client(trust_proxy=True, rate_limit_client_per_minute=5, **extra)
        statuses = [(await password_login(client, f"u{n}", "x", via("203.0.113.7", f"198.51.100.{n}"))).status
                    for n in range(7)]
        assert statuses == [401] * 5 + [429] * 2
        # Another client behind the same proxy is counted on its own.
        assert (await password_login(client, "u", "x", via("203.0.113.8", "198.51.100.1"))).status == 401
        await redis.flushdb()


# --- failed logins per account ------------------------------------------------------------------


async def test_ten_failures_from_ten_clients_lock_the_accounts_password_logins(make_client, factory):
    client = await make_client(trust_proxy=True)
    staff = await factory.staff("ADMIN", login=False)
    for n in range(10):
        assert (await password_login(client, staff.username, "wrong", via(f"198.51.100.{n}"))).status == 401
    # The right password, from yet another client: refused before it is even checked.
    first_wait = await rate_limited(await password_login(client, staff.username, PASSWORD, via("198.51.100.99")))
    assert 50 <= first_wait <= 60
    by_phone = await client.post("/api/auth/login/phone-password", json={"phone": staff.phone, "password": PASSWORD},
                                 headers=via("198.51.100.98"))
    await rate_limited(by_phone)  # the account, whichever identifier it is tried by


async def test_the_lock_grows_with_each_further_failure(make_client, factory, redis):
    client = await make_client(trust_proxy=True)
    staff = await factory.staff("ADMIN", login=False)
    waits = []
    for round_ in range(3):
        failures = 10 if round_ == 0 else 1
        for n in range(failures):
            assert (await password_login(client, staff.username, "wrong", via(f"198.51.{round_}.{n}"))).status == 401
        waits.append(await rate_limited(await password_login(client, staff.username, PASSWORD, via("192.0.2.1"))))
        for key in await redis.keys("mibo:rl:lock:*"):  # the lock runs out...
            await redis.delete(key)
    assert waits[0] < waits[1] < waits[2]
    assert (waits[1], waits[2]) == (pytest.approx(120, abs=10), pytest.approx(240, abs=10))


async def test_a_locked_owner_still_signs_in_with_an_otp_which_lifts_the_lock(make_client, factory, otp_sender):
    client = await make_client(trust_proxy=True)
    staff = await factory.staff("ADMIN", login=False)
    for n in range(10):
        await password_login(client, staff.username, "wrong", via(f"198.51.100.{n}"))
    await rate_limited(await password_login(client, staff.username, PASSWORD, via("192.0.2.1")))
    sent = await client.post("/api/auth/send-otp", json={"phone": staff.phone}, headers=via("192.0.2.1"))
    assert sent.status == 200
    otp_login = await client.post("/api/auth/login/phone-otp",
                                  json={"phone": staff.phone, "otp": otp_sender.last_for(staff.phone)},
                                  headers=via("192.0.2.1"))
    assert otp_login.status == 200
    assert (await password_login(client, staff.username, PASSWORD, via("192.0.2.1"))).status == 200


async def test_an_unknown_account_is_locked_alike(make_client, factory):
    client = await make_client(trust_proxy=True)
    staff = await factory.staff("ADMIN", login=False)
    answers = {}
    for username in (staff.username, "nobody-at-all"):
        for n in range(10):
            assert (await password_login(client, username, "wrong", via(f"198.51.100.{n}"))).status == 401
        resp = await password_login(client, username, "wrong", via("192.0.2.1"))
        assert 50 <= await rate_limited(resp) <= 60
        answers[username] = (resp.status, await resp.json())
    for _, body in answers.values():
        body["error"]["details"].pop("retryAfter")
    assert answers[staff.username] == answers["nobody-at-all"]


async def test_a_success_starts_the_count_again(make_client, factory):
    client = await make_client(trust_proxy=True)
    staff = await factory.staff("ADMIN", login=False)
    for n in range(9):
        await password_login(client, staff.username, "wrong", via(f"198.51.100.{n}"))
    assert (await password_login(client, staff.username, PASSWORD, via("192.0.2.1"))).status == 200
    for n in range(9):
        assert (await password_login(client, staff.username, "wrong", via(f"198.51.101.{n}"))).status == 401
    assert (await password_login(client, staff.username, PASSWORD, via("192.0.2.1"))).status == 200


# --- OTP issuance -------------------------------------------------------------------------------------


async def send_otp(client, phone, headers=None):
    return await client.post("/api/auth/send-otp", json={"phone": phone}, headers=headers)


async def test_otps_per_phone_are_capped_and_answered_alike_for_any_number(make_client, factory, otp_sender):
    client = await make_client(trust_proxy=True)
    staff = await factory.staff("ADMIN", login=False)
    patient = await factory.patient()
    answers = {}
    for label, phone in (("staff", staff.phone), ("patient", patient["phone"]), ("nobody", "+919000000003")):
        statuses = [(await send_otp(client, phone, via(f"198.51.100.{n}"))).status for n in range(5)]
        assert statuses == [200] * 5
        refused = await send_otp(client, phone, via("198.51.100.200"))
        assert 3500 <= await rate_limited(refused) <= 3600  # until the oldest code ages out
        body = await refused.json()
        body["error"]["details"].pop("retryAfter")
        answers[label] = (refused.status, body)
    assert answers["staff"] == answers["patient"] == answers["nobody"]
    assert len(otp_sender.sent) == 5  # the refused request issued nothing, and cancelled nothing
    assert (await client.post("/api/auth/login/phone-otp",
                              json={"phone": staff.phone, "otp": otp_sender.last_for(staff.phone)},
                              headers=via("192.0.2.1"))).status == 200


async def test_otps_per_client_are_capped(make_client, factory):
    client = await make_client(trust_proxy=True, rate_limit_otp_per_client_per_hour=3)
    statuses = [(await send_otp(client, f"+9190000001{n:02d}", via("203.0.113.7"))).status for n in range(5)]
    assert statuses == [200] * 3 + [429] * 2
    assert (await send_otp(client, "+919000000199", via("203.0.113.8"))).status == 200
    # The refused requests took nothing from those phones' own allowance.
    assert [(await send_otp(client, "+919000000103", via(f"192.0.2.{n}"))).status for n in range(6)] == (
        [200] * 5 + [429])


async def test_limits_let_requests_through_when_redis_is_down(aiohttp_client, settings, pool, otp_sender, factory):
    import redis.asyncio as aioredis

    dead = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    client = await aiohttp_client(init_app(settings, pool=pool, redis=dead, otp_sender=otp_sender))
    staff = await factory.staff("ADMIN", login=False)
    assert (await password_login(client, staff.username, "wrong")).status == 401
    assert (await send_otp(client, staff.phone)).status == 200
    assert (await password_login(client, staff.username, PASSWORD)).status == 200
    await dead.aclose()
