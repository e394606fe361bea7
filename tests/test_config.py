"""Configuration: development defaults, typed values, errors that name the variable, and a
production that fails closed (its own secrets, no sandbox, no wildcard CORS)."""

import pytest

from mibo.core import config


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
