"""Settings, read once from the environment and validated at start-up.

Every setting but APP_ENV has a development default. APP_ENV itself defaults to production and
every environment other than an explicit `development` or `test` behaves as production: it
refuses to start while any secret is still a default or too short, or CORS allows any origin.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENVIRONMENTS = ("development", "test", "staging", "production")
DEVELOPMENT_ENVIRONMENTS = ("development", "test")
MIN_SECRET_LENGTH = 32

# Development defaults for secrets. Only development and test start with any of these.
DEV_SECRETS = {
    "JWT_ACCESS_SECRET": "dev-access-secret-not-for-production-0001",
    "JWT_REFRESH_SECRET": "dev-refresh-secret-not-for-production-0002",
    "OTP_HASH_SECRET": "dev-otp-pepper-not-for-production-000003",
    "RAZORPAY_KEY_SECRET": "sandbox_key_secret_not_for_production",
    "RAZORPAY_WEBHOOK_SECRET": "sandbox_webhook_secret_not_for_production",
    "GALLABOX_API_SECRET": "sandbox-gallabox-secret",
    "SERVICE_TOKEN": "dev-service-token-not-for-production-00004",
}


# Where the admin panel's Vite dev server runs (5173, or 5174 when that port is taken): the panel's
# origins in development and test unless ADMIN_PANEL_ORIGINS says otherwise.
DEV_PANEL_ORIGINS = (
    "http://localhost:5173", "http://localhost:5174", "http://127.0.0.1:5173", "http://127.0.0.1:5174",
)


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(name: str, value: str) -> int:
    """'15m' -> 900 seconds; plain integers are seconds."""
    if value.isdigit():
        return int(value)
    match = _DURATION.match(value.strip())
    if not match:
        raise ConfigError(f"{name}: expected a duration such as 15m, 7d or 900, got {value!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class Settings:
    env: str = "production"  # unset is production: a forgotten APP_ENV fails closed
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = "postgresql://127.0.0.1:5432/mibo"
    db_pool_min: int = 2
    db_pool_max: int = 10
    redis_url: str = "redis://127.0.0.1:6379/0"
    jwt_access_secret: str = DEV_SECRETS["JWT_ACCESS_SECRET"]
    jwt_refresh_secret: str = DEV_SECRETS["JWT_REFRESH_SECRET"]
    jwt_access_ttl: int = 15 * 60
    jwt_refresh_ttl: int = 7 * 86400
    otp_hash_secret: str = DEV_SECRETS["OTP_HASH_SECRET"]
    otp_expiry_minutes: int = 10
    otp_max_attempts: int = 3
    bcrypt_rounds: int = 10
    rate_limit_login_per_minute: int = 5
    rate_limit_client_per_minute: int = 60
    rate_limit_account_failures: int = 10
    rate_limit_account_window: int = 15 * 60
    rate_limit_otp_per_phone_per_hour: int = 5
    rate_limit_otp_per_client_per_hour: int = 30
    trust_proxy: bool = False
    trusted_proxy_hops: int = 1
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    cors_origins: tuple[str, ...] = ("*",)
    # The admin panel's own contract (mibo.api.legacy): where it is mounted, and the origins it is
    # served to besides CORS_ORIGIN (none outside development unless listed).
    admin_panel_prefix: str = "/legacy"
    admin_panel_origins: tuple[str, ...] = ()
    # Clinician profile pictures: where they are stored, and the largest accepted.
    upload_dir: str = "run/uploads"
    profile_picture_max_bytes: int = 5 * 1024 * 1024
    # The API's origin as browsers reach it (https://api.mibo.example), for the URLs of uploaded
    # files; empty: the origin each upload request came to.
    public_url: str = ""
    shutdown_timeout: float = 30.0
    log_level: str = "INFO"
    service_token: str = DEV_SECRETS["SERVICE_TOKEN"]
    # The chain's own zone: its "today", chain-wide reports, a new centre's default zone.
    chain_timezone: str = "Asia/Kolkata"
    sandbox_url: str = "http://127.0.0.1:8070"
    gallabox_base_url: str = ""
    gallabox_api_key: str = "sandbox-gallabox-key"
    gallabox_api_secret: str = DEV_SECRETS["GALLABOX_API_SECRET"]
    gallabox_channel_id: str = "sandbox-channel"
    razorpay_base_url: str = ""
    razorpay_key_id: str = "rzp_test_sandbox"
    razorpay_key_secret: str = DEV_SECRETS["RAZORPAY_KEY_SECRET"]
    razorpay_webhook_secret: str = DEV_SECRETS["RAZORPAY_WEBHOOK_SECRET"]
    google_service_account_email: str = "mibo-sandbox@mibo-sandbox.iam.gserviceaccount.com"
    google_private_key: str = ""
    google_calendar_id: str = "primary"
    google_token_uri: str = ""
    google_calendar_base_url: str = ""
    payment_link_expiry_minutes: int = 60
    payment_reconcile_after_minutes: int = 15
    payment_order_expiry_minutes: int = 120
    # Background jobs.
    otp_channel: str = ""  # "whatsapp" or "console"; empty: WhatsApp when GALLABOX_BASE_URL is set
    principal_cache_seconds: int = 60
    outbox_relay: bool = True
    outbox_relay_interval: int = 5
    broker_heartbeat_timeout: int = 10
    broker_maintenance_chance: int = 100_000
    notification_max_attempts: int = 6
    outbox_lease: int = 10 * 60
    notification_lease: int = 2 * 60
    worker_metrics_port: int = 9191
    scheduler_metrics_port: int = 9192
    # Where Prometheus reads each process. The API serves /metrics on its own port only in
    # development or behind METRICS_TOKEN; METRICS_PORT moves it to a listener of its own.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 0
    metrics_token: str = ""

    @property
    def is_development(self) -> bool:
        """Development and test only; every other environment (staging too) runs as production."""
        return self.env in DEVELOPMENT_ENVIRONMENTS

    @property
    def is_production(self) -> bool:
        return not self.is_development

    def replace(self, **changes) -> Settings:
        return dataclasses.replace(self, **changes)


# env var -> (field, parser). Parsers raise ValueError; load() turns that into ConfigError.
def _int(lo: int, hi: int):
    def parse(value: str) -> int:
        number = int(value)
        if not lo <= number <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return number

    return parse


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def _choice(*choices: str):
    def parse(value: str) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    return parse


def _url(*schemes: str):
    def parse(value: str) -> str:
        if "://" not in value or value.split("://", 1)[0] not in schemes:
            raise ValueError(f"must be a {'/'.join(schemes)} URL")
        return value.rstrip("/")

    return parse


def _optional_url(value: str) -> str:
    return _url("http", "https")(value) if value else ""


def _prefix(value: str) -> str:
    if not re.fullmatch(r"(/[a-z0-9_-]+)+", value) or value == "/api" or value.startswith("/api/"):
        raise ValueError("must be a path such as /legacy (lower case, no trailing slash, not under /api)")
    return value


def _origins(value: str) -> tuple[str, ...]:
    origins = tuple(o.strip() for o in value.split(",") if o.strip())
    if not origins:
        raise ValueError("must list at least one origin, or *")
    return origins


def _networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = tuple(ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip())
    if not networks:
        raise ValueError("must list at least one address or CIDR range, such as 10.0.0.0/8")
    return networks


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("must be an IANA time zone such as Asia/Kolkata") from exc
    return value


def _text(value: str) -> str:
    return value


def _private_key(value: str) -> str:
    # Keys pasted into env files usually carry literal "\n".
    return value.replace("\\n", "\n")


VARIABLES: dict[str, tuple[str, object]] = {
    "APP_ENV": ("env", _choice(*ENVIRONMENTS)),
    "HOST": ("host", _text),
    "PORT": ("port", _int(1, 65535)),
    "DATABASE_URL": ("database_url", _url("postgresql", "postgres")),
    "DB_POOL_MIN": ("db_pool_min", _int(0, 100)),
    "DB_POOL_MAX": ("db_pool_max", _int(1, 200)),
    "REDIS_URL": ("redis_url", _url("redis", "rediss")),
    "JWT_ACCESS_SECRET": ("jwt_access_secret", _text),
    "JWT_REFRESH_SECRET": ("jwt_refresh_secret", _text),
    "JWT_ACCESS_EXPIRY": ("jwt_access_ttl", None),
    "JWT_REFRESH_EXPIRY": ("jwt_refresh_ttl", None),
    "OTP_HASH_SECRET": ("otp_hash_secret", _text),
    "OTP_EXPIRY_MINUTES": ("otp_expiry_minutes", _int(1, 60)),
    "OTP_MAX_ATTEMPTS": ("otp_max_attempts", _int(1, 10)),
    "BCRYPT_ROUNDS": ("bcrypt_rounds", _int(4, 15)),
    "RATE_LIMIT_LOGIN_PER_MINUTE": ("rate_limit_login_per_minute", _int(1, 10000)),
    "RATE_LIMIT_CLIENT_PER_MINUTE": ("rate_limit_client_per_minute", _int(1, 100000)),
    # Failed password logins against one account, from any client, within the window; past that
    # the account's password logins get 429 for a while that doubles with each further failure
    # (an OTP login still works, so a stranger cannot keep the owner out).
    "RATE_LIMIT_ACCOUNT_FAILURES": ("rate_limit_account_failures", _int(1, 1000)),
    "RATE_LIMIT_ACCOUNT_WINDOW": ("rate_limit_account_window", None),
    # OTPs issued per phone (whoever's it is) and per client in any hour.
    "RATE_LIMIT_OTP_PER_PHONE_PER_HOUR": ("rate_limit_otp_per_phone_per_hour", _int(1, 1000)),
    "RATE_LIMIT_OTP_PER_CLIENT_PER_HOUR": ("rate_limit_otp_per_client_per_hour", _int(1, 100000)),
    # Behind a reverse proxy: the client is read from the right of X-Forwarded-For, past the proxies
    # we run, either this many hops or, when TRUSTED_PROXIES lists them, every address inside it.
    "TRUST_PROXY": ("trust_proxy", _bool),
    "TRUSTED_PROXY_HOPS": ("trusted_proxy_hops", _int(1, 10)),
    "TRUSTED_PROXIES": ("trusted_proxies", _networks),
    "CORS_ORIGIN": ("cors_origins", _origins),
    "ADMIN_PANEL_PREFIX": ("admin_panel_prefix", _prefix),
    "ADMIN_PANEL_ORIGINS": ("admin_panel_origins", _origins),
    "UPLOAD_DIR": ("upload_dir", _text),
    "PROFILE_PICTURE_MAX_BYTES": ("profile_picture_max_bytes", _int(1024, 10 * 1024 * 1024)),
    "PUBLIC_URL": ("public_url", _optional_url),
    "SHUTDOWN_TIMEOUT": ("shutdown_timeout", lambda v: float(_int(0, 600)(v))),
    "LOG_LEVEL": ("log_level", _choice("DEBUG", "INFO", "WARNING", "ERROR")),
    "SERVICE_TOKEN": ("service_token", _text),
    "DEFAULT_TIMEZONE": ("chain_timezone", _timezone),  # the setting's former name, still read
    "CHAIN_TIMEZONE": ("chain_timezone", _timezone),  # after it, so that it wins when both are set
    "SANDBOX_URL": ("sandbox_url", _url("http", "https")),
    "GALLABOX_BASE_URL": ("gallabox_base_url", _optional_url),
    "GALLABOX_API_KEY": ("gallabox_api_key", _text),
    "GALLABOX_API_SECRET": ("gallabox_api_secret", _text),
    "GALLABOX_CHANNEL_ID": ("gallabox_channel_id", _text),
    "RAZORPAY_BASE_URL": ("razorpay_base_url", _optional_url),
    "RAZORPAY_KEY_ID": ("razorpay_key_id", _text),
    "RAZORPAY_KEY_SECRET": ("razorpay_key_secret", _text),
    "RAZORPAY_WEBHOOK_SECRET": ("razorpay_webhook_secret", _text),
    "GOOGLE_SERVICE_ACCOUNT_EMAIL": ("google_service_account_email", _text),
    "GOOGLE_PRIVATE_KEY": ("google_private_key", _private_key),
    "GOOGLE_CALENDAR_ID": ("google_calendar_id", _text),
    "GOOGLE_TOKEN_URI": ("google_token_uri", _optional_url),
    "GOOGLE_CALENDAR_BASE_URL": ("google_calendar_base_url", _optional_url),
    # Razorpay refuses links that expire sooner than 15 minutes after they are made.
    "PAYMENT_LINK_EXPIRY_MINUTES": ("payment_link_expiry_minutes", _int(15, 43200)),
    # Open payments older than this are checked with Razorpay by the reconciliation job.
    "PAYMENT_RECONCILE_AFTER_MINUTES": ("payment_reconcile_after_minutes", _int(1, 1440)),
    # A checkout order still unpaid after this long is marked FAILED by reconciliation.
    "PAYMENT_ORDER_EXPIRY_MINUTES": ("payment_order_expiry_minutes", _int(15, 43200)),
    "OTP_CHANNEL": ("otp_channel", _choice("whatsapp", "console")),
    # How long an API process may keep a session's actor (mibo/principals.py; 0: off).
    # Changes reach every process at once through LISTEN/NOTIFY; this is only a backstop.
    "PRINCIPAL_CACHE_SECONDS": ("principal_cache_seconds", _int(0, 3600)),
    # The API process publishes committed outbox rows (LISTEN/NOTIFY) and sweeps every interval.
    "OUTBOX_RELAY": ("outbox_relay", _bool),
    "OUTBOX_RELAY_INTERVAL": ("outbox_relay_interval", None),
    # A worker silent this long is presumed dead and its unacknowledged messages are requeued
    # by the next broker maintenance run; maintenance runs on this many commands per million.
    "BROKER_HEARTBEAT_TIMEOUT": ("broker_heartbeat_timeout", None),
    "BROKER_MAINTENANCE_CHANCE": ("broker_maintenance_chance", _int(1, 1_000_000)),
    # A WhatsApp message is tried this many times in all before it is left FAILED for good.
    "NOTIFICATION_MAX_ATTEMPTS": ("notification_max_attempts", _int(1, 50)),
    # A step published to Redis and still not done after this long is published again (the
    # backstop for a message Redis lost); the repair sweeps also wait this long before acting.
    "OUTBOX_LEASE": ("outbox_lease", None),
    # A WhatsApp send with no outcome recorded this long after it started was being sent by a
    # worker that died; it is queued again. Longer than a send's time limit (one minute).
    "NOTIFICATION_LEASE": ("notification_lease", None),
    "WORKER_METRICS_PORT": ("worker_metrics_port", _int(0, 65535)),
    "SCHEDULER_METRICS_PORT": ("scheduler_metrics_port", _int(0, 65535)),
    # Bind address of every metrics listener (the API's METRICS_PORT, the worker's, the scheduler's).
    "METRICS_HOST": ("metrics_host", _text),
    # The API's metrics on a listener of their own (METRICS_HOST:METRICS_PORT) instead of /metrics on PORT.
    "METRICS_PORT": ("metrics_port", _int(0, 65535)),
    # /metrics on the API port then needs "Authorization: Bearer <METRICS_TOKEN>".
    "METRICS_TOKEN": ("metrics_token", _text),
}

SECRET_VARIABLES = tuple(DEV_SECRETS)
PRODUCTION_PROVIDER_SETTINGS = (
    "RAZORPAY_BASE_URL", "GALLABOX_BASE_URL", "GOOGLE_TOKEN_URI", "GOOGLE_CALENDAR_BASE_URL", "GOOGLE_PRIVATE_KEY",
)


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from the environment, or raise ConfigError naming the bad variable."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for name, (attr, parse) in VARIABLES.items():
        raw = environ.get(name)
        if not raw:  # unset or empty: keep the default
            continue
        try:
            values[attr] = parse_duration(name, raw) if parse is None else parse(raw)
        except ConfigError:
            raise
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}") from None
    if "admin_panel_origins" not in values and values.get("env", "production") in DEVELOPMENT_ENVIRONMENTS:
        values["admin_panel_origins"] = DEV_PANEL_ORIGINS
    settings = Settings(**values)
    _check_consistency(settings)
    return settings


def _check_consistency(settings: Settings) -> None:
    if settings.db_pool_min > settings.db_pool_max:
        raise ConfigError("DB_POOL_MIN: must not exceed DB_POOL_MAX")
    if settings.trusted_proxies and not settings.trust_proxy:
        raise ConfigError("TRUSTED_PROXIES: set TRUST_PROXY=true as well, or X-Forwarded-For is ignored")
    if settings.rate_limit_account_window <= 0:
        raise ConfigError("RATE_LIMIT_ACCOUNT_WINDOW: must be longer than 0 seconds")
    for name in ("OUTBOX_LEASE", "NOTIFICATION_LEASE"):
        if getattr(settings, VARIABLES[name][0]) < 1:
            raise ConfigError(f"{name}: must be at least 1 second")
    if settings.is_development:
        return
    env = settings.env
    for name in SECRET_VARIABLES:
        value = getattr(settings, VARIABLES[name][0])
        if value == DEV_SECRETS[name]:
            raise ConfigError(f"{name}: {env} needs its own secret, not the development default"
                              " (APP_ENV=development or test to use the defaults)")
    for name in ("JWT_ACCESS_SECRET", "JWT_REFRESH_SECRET", "OTP_HASH_SECRET", "SERVICE_TOKEN"):
        if len(getattr(settings, VARIABLES[name][0])) < MIN_SECRET_LENGTH:
            raise ConfigError(f"{name}: must be at least {MIN_SECRET_LENGTH} characters in {env}")
    if settings.metrics_token and len(settings.metrics_token) < MIN_SECRET_LENGTH:
        raise ConfigError(f"METRICS_TOKEN: must be at least {MIN_SECRET_LENGTH} characters in {env}")
    if settings.jwt_access_secret == settings.jwt_refresh_secret:
        raise ConfigError("JWT_REFRESH_SECRET: must differ from JWT_ACCESS_SECRET")
    if "*" in settings.cors_origins:
        raise ConfigError(f"CORS_ORIGIN: {env} must list its front-end origins, not *")
    if "*" in settings.admin_panel_origins:
        raise ConfigError(f"ADMIN_PANEL_ORIGINS: {env} must list the panel's origins, not *")
    if settings.bcrypt_rounds < 10:
        raise ConfigError(f"BCRYPT_ROUNDS: {env} needs at least 10")
    # An empty provider setting means "use the local sandbox": fine for developers, never for patients.
    for name in PRODUCTION_PROVIDER_SETTINGS:
        if not getattr(settings, VARIABLES[name][0]):
            raise ConfigError(f"{name}: {env} must name the real provider, not fall back to the sandbox")
