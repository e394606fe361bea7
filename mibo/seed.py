"""The demo data set loaded by `make run`: centres, staff of every role, clinicians, patients.

Idempotent: a second run finds the demo admin and changes nothing. Every demo account
shares DEMO_PASSWORD; the README lists them.
"""

from __future__ import annotations

import psycopg2
from psycopg2.extras import RealDictCursor

from mibo.core.config import Settings
from mibo.core.passwords import hash_password_sync

DEMO_PASSWORD = "Mibo@2026"

CENTRES = [
    ("Mibo Bangalore - Indiranagar", "bangalore", "100 Feet Road, Indiranagar", "560038", "+918040000001"),
    ("Mibo Kochi - Kakkanad", "kochi", "Infopark Road, Kakkanad", "682030", "+914840000002"),
    ("Mibo Mumbai - Bandra", "mumbai", "Hill Road, Bandra West", "400050", "+912240000003"),
]

# username, full name, phone, role, centre indexes (empty = chain-wide)
STAFF = [
    ("admin", "Asha Admin", "+919900000001", "ADMIN", []),
    ("manager", "Manoj Manager", "+919900000002", "MANAGER", []),
    ("cm.bangalore", "Chitra Centre-Manager", "+919900000003", "CENTRE_MANAGER", [0]),
    ("cc.bangalore", "Kiran Care-Coordinator", "+919900000004", "CARE_COORDINATOR", [0]),
    ("desk.bangalore", "Farah Front-Desk", "+919900000005", "FRONT_DESK", [0]),
    ("desk.kochi", "Joseph Front-Desk", "+919900000006", "FRONT_DESK", [1]),
    ("desk.mumbai", "Meera Front-Desk", "+919900000007", "FRONT_DESK", [2]),
]

# username, full name, phone, centre index, specialization, registration, fee
CLINICIANS = [
    ("dr.rao", "Dr. Anil Rao", "+919900000101", 0, "Psychiatry", "KMC-10001", 1500),
    ("dr.iyer", "Dr. Lakshmi Iyer", "+919900000102", 0, "Clinical Psychology", "RCI-20002", 1200),
    ("dr.menon", "Dr. Suresh Menon", "+919900000103", 1, "Psychiatry", "TCMC-30003", 1400),
    ("dr.shah", "Dr. Priya Shah", "+919900000104", 2, "Child Psychiatry", "MMC-40004", 1800),
]

PATIENTS = [
    ("Rahul Verma", "+919800000001", "1990-04-12", "MALE"),
    ("Sneha Pillai", "+919800000002", "1985-09-30", "FEMALE"),
    ("Imran Khan", "+919800000003", "2001-01-05", "MALE"),
]


def seed_demo(settings: Settings) -> str:
    conn = psycopg2.connect(settings.database_url)
    try:
        with conn, conn.cursor(cursor_factory=RealDictCursor) as cur:
            cur.execute("SELECT 1 FROM users WHERE username = 'admin'")
            if cur.fetchone():
                return "demo data already present"
            password_hash = hash_password_sync(DEMO_PASSWORD, settings.bcrypt_rounds)
            centre_ids = []
            for name, city, address, pincode, phone in CENTRES:
                cur.execute(
                    "INSERT INTO centres (name, city, address_line1, pincode, contact_phone)"
                    " VALUES (%s, %s, %s, %s, %s) RETURNING id",
                    (name, city, address, pincode, phone),
                )
                centre_ids.append(cur.fetchone()["id"])
            for username, full_name, phone, role, centres in STAFF:
                user_id = _staff_user(cur, username, full_name, phone, password_hash, role,
                                      [centre_ids[i] for i in centres])
                cur.execute("INSERT INTO staff_profiles (user_id, designation) VALUES (%s, %s)",
                            (user_id, role.replace("_", " ").title()))
            for username, full_name, phone, centre, specialization, registration, fee in CLINICIANS:
                user_id = _staff_user(cur, username, full_name, phone, password_hash, "CLINICIAN",
                                      [centre_ids[centre]])
                cur.execute(
                    "INSERT INTO clinician_profiles (user_id, primary_centre_id, specialization,"
                    " registration_number, years_of_experience, consultation_fee)"
                    " VALUES (%s, %s, %s, %s, 10, %s) RETURNING id",
                    (user_id, centre_ids[centre], specialization, registration, fee),
                )
                clinician_id = cur.fetchone()["id"]
                # Monday to Saturday, 09:00-13:00 and 14:00-18:00, 30-minute slots.
                for day in range(6):
                    for start, end in (("09:00", "13:00"), ("14:00", "18:00")):
                        cur.execute(
                            "INSERT INTO clinician_availability_rules"
                            " (clinician_id, centre_id, day_of_week, start_time, end_time, slot_duration_minutes)"
                            " VALUES (%s, %s, %s, %s, %s, 30)",
                            (clinician_id, centre_ids[centre], day, start, end),
                        )
            for full_name, phone, born, gender in PATIENTS:
                cur.execute(
                    "INSERT INTO users (phone, full_name, user_type) VALUES (%s, %s, 'PATIENT') RETURNING id",
                    (phone, full_name),
                )
                # Registered at Bangalore, whose desk and clinicians the demo accounts show first.
                cur.execute(
                    "INSERT INTO patient_profiles (user_id, date_of_birth, gender, registered_centre_id)"
                    " VALUES (%s, %s, %s, %s)",
                    (cur.fetchone()["id"], born, gender, centre_ids[0]),
                )
        staff_count = len(STAFF) + len(CLINICIANS)
        return f"demo data loaded: {len(CENTRES)} centres, {staff_count} staff, {len(PATIENTS)} patients"
    finally:
        conn.close()


def _staff_user(cur, username, full_name, phone, password_hash, role, centre_ids) -> int:
    cur.execute(
        "INSERT INTO users (username, full_name, phone, email, password_hash, user_type)"
        " VALUES (%s, %s, %s, %s, %s, 'STAFF') RETURNING id",
        (username, full_name, phone, f"{username}@mibo.example", password_hash),
    )
    user_id = cur.fetchone()["id"]
    cur.execute(
        "INSERT INTO user_roles (user_id, role_id, centre_id)"
        " SELECT %s, id, NULL FROM roles WHERE name = %s",
        (user_id, role),
    )
    for centre_id in centre_ids:
        cur.execute("INSERT INTO centre_staff_assignments (centre_id, user_id) VALUES (%s, %s)", (centre_id, user_id))
    return user_id
