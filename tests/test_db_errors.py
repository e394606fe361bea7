"""Database errors become API errors naming the field (mibo.core.errors.from_db_error), and the
exclusion constraint that is the final guard against double booking."""

import psycopg2
import pytest

from mibo.core.errors import from_db_error


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
