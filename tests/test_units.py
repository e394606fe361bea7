"""Unit tests: configuration, tokens, OTPs, password hashing, database error mapping."""

import time

import jwt
import psycopg2
import pytest

from mibo.core import config, passwords, tokens
from mibo.core.errors import from_db_error
from mibo.domain import otp

GOOD_SECRET = "x" * 40


def production_env(**overrides):
    env = {
        "APP_ENV": "production",
        "JWT_ACCESS_SECRET": "a" * 40,
        "JWT_REFRESH_SECRET": "b" * 40,
        "OTP_HASH_SECRET": "c" * 40,
        "SERVICE_TOKEN": "d" * 40,
        "RAZORPAY_KEY_SECRET": "live-key-secret",
        "RAZORPAY_WEBHOOK_SECRET": "live-webhook-secret",
        "GALLABOX_API_SECRET": "live-gallabox-secret",
        "CORS_ORIGIN": "https://admin.mibo.in,https://mibo.in",
        "RAZORPAY_BASE_URL": "https://api.razorpay.com",
        "GALLABOX_BASE_URL": "https://server.gallabox.com",
        "GOOGLE_TOKEN_URI": "https://oauth2.googleapis.com/token",
        "GOOGLE_CALENDAR_BASE_URL": "https://www.googleapis.com",
        "GOOGLE_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\\nMIIE...\\n-----END PRIVATE KEY-----\\n",
    }
    env.update(overrides)
    return env


# --- configuration -----------------------------------------------------------------


DEV = {"APP_ENV": "development"}


def test_development_defaults_need_no_other_variable():
    settings = config.load(DEV)
    assert settings.env == "development"
    assert settings.jwt_access_ttl == 900 and settings.jwt_refresh_ttl == 7 * 86400
    assert settings.bcrypt_rounds == 10 and settings.otp_expiry_minutes == 10


def test_an_unset_app_env_is_production_and_refuses_the_default_secrets():
    with pytest.raises(config.ConfigError, match="^JWT_ACCESS_SECRET: production needs its own secret"):
        config.load({})
    assert config.load({k: v for k, v in production_env().items() if k != "APP_ENV"}).env == "production"


@pytest.mark.parametrize("env", ["staging", "production"])
def test_every_environment_but_development_and_test_fails_closed(env):
    assert config.load(production_env(APP_ENV=env)).is_production
    with pytest.raises(config.ConfigError, match="^JWT_ACCESS_SECRET:"):
        config.load(production_env(APP_ENV=env, JWT_ACCESS_SECRET=config.DEV_SECRETS["JWT_ACCESS_SECRET"]))
    with pytest.raises(config.ConfigError, match="^SERVICE_TOKEN:.*32"):
        config.load(production_env(APP_ENV=env, SERVICE_TOKEN="short"))
    with pytest.raises(config.ConfigError, match="^CORS_ORIGIN:"):
        config.load(production_env(APP_ENV=env, CORS_ORIGIN="https://admin.mibo.in,*"))
    for relaxed in ("development", "test"):
        assert config.load({"APP_ENV": relaxed}).is_development


def test_values_are_parsed_and_typed():
    settings = config.load({**DEV, "PORT": "9000", "JWT_ACCESS_EXPIRY": "30m", "TRUST_PROXY": "yes",
                            "CORS_ORIGIN": "https://a.example, https://b.example"})
    assert settings.port == 9000 and settings.jwt_access_ttl == 1800 and settings.trust_proxy is True
    assert settings.cors_origins == ("https://a.example", "https://b.example")


@pytest.mark.parametrize("name, value", [
    ("PORT", "eighty"), ("PORT", "70000"), ("DATABASE_URL", "mysql://x"), ("JWT_ACCESS_EXPIRY", "15 minutes"),
    ("APP_ENV", "prod"), ("DEFAULT_TIMEZONE", "Mars/Olympus"), ("TRUST_PROXY", "maybe"), ("BCRYPT_ROUNDS", "3"),
])
def test_bad_values_name_the_variable(name, value):
    with pytest.raises(config.ConfigError, match=f"^{name}:"):
        config.load({**DEV, name: value})


def test_production_with_its_own_secrets_starts():
    assert config.load(production_env()).is_production


@pytest.mark.parametrize("name", ["JWT_ACCESS_SECRET", "JWT_REFRESH_SECRET", "OTP_HASH_SECRET", "SERVICE_TOKEN",
                                  "RAZORPAY_WEBHOOK_SECRET"])
def test_production_refuses_default_secrets(name):
    env = production_env()
    env[name] = config.DEV_SECRETS[name]
    with pytest.raises(config.ConfigError, match=f"^{name}:"):
        config.load(env)


@pytest.mark.parametrize("name", ["RAZORPAY_BASE_URL", "GALLABOX_BASE_URL", "GOOGLE_TOKEN_URI",
                                  "GOOGLE_CALENDAR_BASE_URL", "GOOGLE_PRIVATE_KEY"])
def test_production_never_falls_back_to_the_sandbox(name):
    env = production_env()
    del env[name]
    with pytest.raises(config.ConfigError, match=f"^{name}:"):
        config.load(env)


def test_production_refuses_short_jwt_secret_and_wildcard_cors():
    with pytest.raises(config.ConfigError, match="^JWT_ACCESS_SECRET:.*32"):
        config.load(production_env(JWT_ACCESS_SECRET="short-secret"))
    with pytest.raises(config.ConfigError, match="^CORS_ORIGIN:"):
        config.load(production_env(CORS_ORIGIN="*"))


def test_cli_reports_config_errors_without_a_traceback(capsys, monkeypatch):
    from mibo.cli import main

    monkeypatch.setenv("PORT", "not-a-port")
    with pytest.raises(SystemExit) as exc:
        main(["migrate"])
    assert exc.value.code == 2
    assert "PORT:" in capsys.readouterr().err


# --- tokens --------------------------------------------------------------------------


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


# --- OTP and passwords ------------------------------------------------------------


def test_otp_is_six_digits_and_varies():
    codes = {otp.generate_otp() for _ in range(200)}
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert len(codes) > 150


def test_otp_hash_is_keyed_and_bound_to_the_phone():
    stored = otp.hash_otp("secret-1", "+919800000001", "123456")
    assert otp.verify_otp("secret-1", "+919800000001", "123456", stored)
    assert not otp.verify_otp("secret-1", "+919800000001", "123457", stored)
    assert not otp.verify_otp("secret-1", "+919800000002", "123456", stored)
    assert not otp.verify_otp("secret-2", "+919800000001", "123456", stored)


async def test_console_sender_shows_the_code_only_in_development(capsys, caplog):
    await otp.ConsoleOtpSender(show_code=True).send("+919812345678", "424242", 10)
    await otp.ConsoleOtpSender(show_code=False).send("+919812345678", "515151", 10)
    err = capsys.readouterr().err
    assert "424242" in err and "515151" not in err
    assert "9812345678" not in err + caplog.text


def test_bcrypt_cost_10_and_verification():
    hashed = passwords.hash_password_sync("Correct-Horse-9")
    assert hashed.startswith("$2b$10$")
    assert passwords.check_password_sync("Correct-Horse-9", hashed)
    assert not passwords.check_password_sync("wrong", hashed)
    assert not passwords.check_password_sync("anything", None)
    assert not passwords.check_password_sync("anything", "not-a-bcrypt-hash")


async def test_bcrypt_runs_off_the_event_loop():
    import asyncio

    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.gather(*(passwords.hash_password(None, "pw", 10) for _ in range(3)))
    task.cancel()
    # Three ~100 ms hashes: a blocked loop would tick almost never.
    assert ticks >= 10


# --- database errors → API errors ---------------------------------------------------


def _violation(settings, statement):
    conn = psycopg2.connect(settings.database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO centres (id, name, city) VALUES (900001, 'C', 'kochi');"
                "INSERT INTO users (id, phone, full_name, user_type) VALUES (900001, '+919800000001', 'A', 'STAFF');"
                "INSERT INTO users (id, full_name, user_type) VALUES (900002, 'P', 'PATIENT');"
                "INSERT INTO patient_profiles (id, user_id) VALUES (900001, 900002);"
                "INSERT INTO clinician_profiles (id, user_id, primary_centre_id, specialization)"
                " VALUES (900001, 900001, 900001, 'x');"
                "INSERT INTO appointments (patient_id, clinician_id, centre_id, appointment_type, scheduled_start_at,"
                " scheduled_end_at, duration_minutes, source)"
                " VALUES (900001, 900001, 900001, 'IN_PERSON', '2030-01-01T10:00Z', '2030-01-01T10:30Z', 30,"
                " 'ADMIN_MANAGER');"
            )
            with pytest.raises(psycopg2.Error) as exc:
                cur.execute(statement)
        return from_db_error(exc.value)
    finally:
        conn.rollback()
        conn.close()


@pytest.mark.parametrize("statement, status, code, field", [
    ("INSERT INTO users (phone, full_name, user_type) VALUES ('+919800000001', 'B', 'STAFF')",
     409, "DUPLICATE", "phone"),
    ("INSERT INTO users (email, full_name, user_type) VALUES ('X@Y.IN', 'B', 'STAFF');"
     "INSERT INTO users (email, full_name, user_type) VALUES ('x@y.in', 'C', 'STAFF')", 409, "DUPLICATE", "email"),
    ("INSERT INTO appointments (patient_id, clinician_id, centre_id, appointment_type, scheduled_start_at,"
     " scheduled_end_at, duration_minutes, source) VALUES (900001, 900001, 900001, 'IN_PERSON', '2030-01-01T10:15Z',"
     " '2030-01-01T10:45Z', 30, 'ADMIN_MANAGER')", 409, "SLOT_UNAVAILABLE", "scheduledStartAt"),
    ("INSERT INTO patient_profiles (user_id) VALUES (424242)", 400, "REFERENCE_NOT_FOUND", None),
    ("INSERT INTO centres (name, city) VALUES ('X', 'delhi')", 400, "VALIDATION_ERROR", None),
    ("INSERT INTO centres (city) VALUES ('kochi')", 400, "VALIDATION_ERROR", "name"),
])
def test_database_errors_map_to_api_errors(settings, migrated, statement, status, code, field):
    error = _violation(settings, statement)
    assert (error.status, error.code) == (status, code)
    if field:
        assert field in error.details


def test_exclusion_constraint_allows_back_to_back_and_cancelled(settings, migrated):
    conn = psycopg2.connect(settings.database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO centres (id, name, city) VALUES (900001, 'C', 'kochi');"
                "INSERT INTO users (id, full_name, user_type) VALUES (900001, 'A', 'STAFF'), (900002, 'P', 'PATIENT'),"
                " (900003, 'Q', 'PATIENT');"
                "INSERT INTO patient_profiles (id, user_id) VALUES (900001, 900002), (900002, 900003);"
                "INSERT INTO clinician_profiles (id, user_id, primary_centre_id, specialization)"
                " VALUES (900001, 900001, 900001, 'x');"
            )
            insert = ("INSERT INTO appointments (patient_id, clinician_id, centre_id, appointment_type,"
                      " scheduled_start_at, scheduled_end_at, duration_minutes, source, status)"
                      " VALUES (%s, 900001, 900001, 'IN_PERSON', %s, %s, 30, 'ADMIN_MANAGER', %s)")
            cur.execute(insert, (900001, "2030-01-01T10:00Z", "2030-01-01T10:30Z", "CANCELLED"))
            cur.execute(insert, (900001, "2030-01-01T10:00Z", "2030-01-01T10:30Z", "BOOKED"))  # cancelled frees it
            cur.execute(insert, (900002, "2030-01-01T10:30Z", "2030-01-01T11:00Z", "CONFIRMED"))  # back to back
            with pytest.raises(psycopg2.errors.ExclusionViolation):
                cur.execute(insert, (900002, "2030-01-01T10:29Z", "2030-01-01T10:59Z", "BOOKED"))
    finally:
        conn.rollback()
        conn.close()


def test_schema_instances_do_not_pile_up_validators():
    # The bounds CamelSchema adds must not be appended to the class's shared validator lists.
    from schemas.appointments import CreateAppointmentSchema

    counts = [{name: len(field.validators) for name, field in CreateAppointmentSchema().fields.items()}
              for _ in range(3)]
    assert counts[0] == counts[1] == counts[2]
    assert counts[0]["patient_id"] >= 1 and counts[0]["scheduled_start_at"] >= 1
