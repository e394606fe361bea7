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
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TIMESTAMP
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
    # 0011_centre_relationships
    _ref("registered_centre_id"),
    Column("mrn", String(50)),  # 0036
)

# 0011_centre_relationships: the centres a patient belongs to (kept by triggers).
patient_centres = Table(
    "patient_centres", metadata,
    _ref("patient_id", False), _ref("centre_id", False),
    Column("since", TZ, nullable=False),
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
    Column("profile_picture_url", String(1000)),
    Column("bio", Text),
    Column("qualifications", ARRAY(Text), nullable=False),
    Column("expertise", ARRAY(Text), nullable=False),
    Column("languages", ARRAY(Text), nullable=False),
    Column("consultation_modes", ARRAY(Text), nullable=False),
    _active(), _created(), _updated(),
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
    Column("session_started_at", TZ), Column("session_ended_at", TZ),
    _active(), _created(), _updated(),
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
    # 0012_payment_waivers
    Column("waived_amount", Numeric(10, 2)),
    Column("waiver_reason", Text),
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


_DIALECT = pg_psycopg2.dialect()


def compile_query(statement) -> tuple[str, dict]:
    """Core statement -> (SQL, params) for an aiopg cursor.

    render_postcompile expands IN lists into one parameter per item, which a plain cursor can take."""
    compiled = statement.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True})
    return str(compiled), compiled.params

