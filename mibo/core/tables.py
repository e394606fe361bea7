"""SQLAlchemy Core descriptions of the tables, used only to compose statements whose filters vary.

The migrations are the truth; tests/test_tables.py compares every table here with the
migrated database (columns, types, nullability), so the two cannot drift apart. Fixed
queries stay plain SQL strings: compiling Core costs more than running a simple query.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
)
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP
from sqlalchemy.dialects.postgresql import psycopg2 as pg_psycopg2

metadata = MetaData()
TZ = TIMESTAMP(timezone=True)


def _id() -> Column:
    return Column("id", BigInteger, primary_key=True)


def _ref(name: str, nullable: bool = True) -> Column:
    return Column(name, BigInteger, nullable=nullable)


def _created() -> Column:
    return Column("created_at", TZ, nullable=False)


def _updated() -> Column:
    return Column("updated_at", TZ, nullable=False)


def _active() -> Column:
    return Column("is_active", Boolean, nullable=False)


centres = Table(
    "centres", metadata, _id(),
    Column("name", String(150), nullable=False),
    Column("city", String(100), nullable=False),
    Column("address_line1", String(255)),
    Column("address_line2", String(255)),
    Column("pincode", String(20)),
    Column("contact_phone", String(20)),
    Column("timezone", String(64), nullable=False),
    _active(), _created(), _updated(),
)

users = Table(
    "users", metadata, _id(),
    Column("phone", String(20)),
    Column("email", String(255)),
    Column("username", String(50)),
    Column("password_hash", Text),
    Column("full_name", String(150), nullable=False),
    Column("avatar_url", Text),
    Column("user_type", String(20), nullable=False),
    _active(), _created(), _updated(),
)

roles = Table(
    "roles", metadata, _id(),
    Column("name", String(50), nullable=False),
    Column("description", Text),
    _created(),
)

user_roles = Table(
    "user_roles", metadata, _id(),
    _ref("user_id", False), _ref("role_id", False), _ref("centre_id"),
    _active(), _created(),
)

centre_staff_assignments = Table(
    "centre_staff_assignments", metadata, _id(),
    _ref("centre_id", False), _ref("user_id", False),
    _active(), _created(),
)

staff_profiles = Table(
    "staff_profiles", metadata, _id(),
    _ref("user_id", False),
    Column("designation", String(150)),
    Column("department", String(150)),
    _active(), _created(), _updated(),
)

patient_profiles = Table(
    "patient_profiles", metadata, _id(),
    _ref("user_id", False),
    Column("date_of_birth", Date),
    Column("gender", String(20)),
    Column("blood_group", String(10)),
    Column("emergency_contact_name", String(150)),
    Column("emergency_contact_phone", String(20)),
    Column("notes", Text),
    _active(), _created(), _updated(),
)

clinician_profiles = Table(
    "clinician_profiles", metadata, _id(),
    _ref("user_id", False), _ref("primary_centre_id", False),
    Column("specialization", String(150), nullable=False),
    Column("registration_number", String(100)),
    Column("years_of_experience", Integer, nullable=False),
    Column("consultation_fee", Numeric(10, 2), nullable=False),
    Column("default_consultation_duration_minutes", Integer, nullable=False),
    Column("buffer_before_minutes", Integer, nullable=False),
    Column("buffer_after_minutes", Integer, nullable=False),
    Column("min_notice_minutes", Integer, nullable=False),
    Column("booking_horizon_days", Integer, nullable=False),
    Column("max_daily_appointments", Integer),
    _active(), _created(), _updated(),
)

clinician_availability_rules = Table(
    "clinician_availability_rules", metadata, _id(),
    _ref("clinician_id", False), _ref("centre_id", False),
    Column("day_of_week", SmallInteger, nullable=False),
    Column("start_time", Time, nullable=False),
    Column("end_time", Time, nullable=False),
    Column("slot_duration_minutes", Integer, nullable=False),
    Column("consultation_mode", String(20), nullable=False),
    _active(), _created(),
)

appointments = Table(
    "appointments", metadata, _id(),
    _ref("patient_id", False), _ref("clinician_id", False), _ref("centre_id", False),
    Column("appointment_type", String(30), nullable=False),
    Column("scheduled_start_at", TZ, nullable=False),
    Column("scheduled_end_at", TZ, nullable=False),
    Column("duration_minutes", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    _ref("parent_appointment_id"), _ref("booked_by_user_id"),
    Column("source", String(30), nullable=False),
    Column("meet_link", Text),
    Column("calendar_event_id", Text),
    Column("notes", Text),
    Column("cancellation_reason", Text),
    _active(), _created(), _updated(),
)

appointment_status_history = Table(
    "appointment_status_history", metadata, _id(),
    _ref("appointment_id", False),
    Column("from_status", String(20)),
    Column("to_status", String(20), nullable=False),
    _ref("changed_by_user_id"),
    Column("reason", Text),
    _created(),
)

medical_notes = Table(
    "medical_notes", metadata, _id(),
    _ref("patient_id", False), _ref("appointment_id"), _ref("centre_id"), _ref("author_user_id", False),
    Column("note", Text, nullable=False),
    _created(),
)

payments = Table(
    "payments", metadata, _id(),
    _ref("patient_id", False), _ref("appointment_id"),
    Column("provider", String(30), nullable=False),
    Column("order_id", String(100)),
    Column("payment_id", String(100)),
    Column("payment_link_id", String(100)),
    Column("amount", Numeric(10, 2), nullable=False),
    Column("currency", String(10), nullable=False),
    Column("status", String(20), nullable=False),
    Column("refund_requested_at", TZ),
    _ref("recorded_by_user_id"),
    Column("note", Text),
    Column("failure_reason", Text),
    Column("paid_at", TZ),
    _created(), _updated(),
    # 0005_payments
    Column("channel", String(20), nullable=False),
    Column("payment_link_url", Text),
    Column("expires_at", TZ),
    Column("reference", String(100)),
    Column("flag_reason", Text),
    Column("flagged_at", TZ),
)

otp_requests = Table(
    "otp_requests", metadata, _id(),
    Column("phone", String(20), nullable=False),
    Column("otp_hash", Text, nullable=False),
    Column("purpose", String(30), nullable=False),
    Column("expires_at", TZ, nullable=False),
    Column("is_used", Boolean, nullable=False),
    Column("attempts_count", Integer, nullable=False),
    _created(),
)

auth_sessions = Table(
    "auth_sessions", metadata, _id(),
    _ref("user_id", False),
    Column("refresh_token_hash", Text, nullable=False),
    Column("expires_at", TZ, nullable=False),
    Column("revoked_at", TZ),
    Column("revoked_reason", String(30)),
    _created(),
    Column("rotated_at", TZ),
)

notification_logs = Table(
    "notification_logs", metadata, _id(),
    Column("idempotency_key", String(200), nullable=False),
    _ref("appointment_id"), _ref("user_id"),
    Column("channel", String(20), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("template_name", String(100)),
    Column("recipient_phone", String(20)),
    Column("payload", JSONB, nullable=False),
    Column("status", String(20), nullable=False),
    Column("provider_message_id", String(200)),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("next_attempt_at", TZ),
    Column("sent_at", TZ),
    _created(), _updated(),
    Column("attempt_started_at", TZ),
    Column("lease_until", TZ),
)

outbox = Table(
    "outbox", metadata, _id(),
    Column("actor_name", String(100), nullable=False),
    Column("args", JSONB, nullable=False),
    Column("dedupe_key", String(200)),
    _created(),
    Column("published_at", TZ),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("due_at", TZ, nullable=False),
    Column("done_at", TZ),
)

outbox_broker = Table(
    "outbox_broker", metadata,
    Column("id", Boolean, primary_key=True),
    Column("epoch", Text),
    Column("changed_at", TZ),
)

webhook_events = Table(
    "webhook_events", metadata, _id(),
    Column("provider", String(30), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("received_at", TZ, nullable=False),
    Column("processed_at", TZ),
    Column("outcome", String(40)),
    _ref("matched_payment_id"),  # 0005_payments
)

audit_log = Table(
    "audit_log", metadata, _id(),
    _ref("actor_user_id"),
    Column("actor_kind", String(20), nullable=False),
    Column("surface", String(20), nullable=False),
    Column("action", String(60), nullable=False),
    Column("entity_type", String(40), nullable=False),
    _ref("entity_id"), _ref("centre_id"),
    Column("request_id", String(64)),
    Column("details", JSONB, nullable=False),
    _created(),
)

clinician_blocks = Table(
    "clinician_blocks", metadata, _id(),
    _ref("clinician_id", False), _ref("centre_id"),
    Column("starts_at", TZ, nullable=False),
    Column("ends_at", TZ, nullable=False),
    Column("reason", Text, nullable=False),
    _ref("created_by_user_id"),
    _created(),
    Column("removed_at", TZ),
    _ref("removed_by_user_id"),
)

_DIALECT = pg_psycopg2.dialect()


def compile_query(statement) -> tuple[str, dict]:
    """Core statement -> (SQL, params) for an aiopg cursor (see STACK_NOTES on render_postcompile)."""
    compiled = statement.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True})
    return str(compiled), compiled.params

