"""Who may change a login: clinician routes touch the profile only, a CENTRE_MANAGER manages only
their own clinicians' logins, nobody deactivates, demotes or promotes themselves, and the last
active ADMIN survives any path, concurrent requests included."""

from __future__ import annotations

import asyncio

import psycopg2
import pytest

from tests.ops_helpers import audit_rows, error_of

ACTIVE_ADMINS = """
SELECT count(*) FROM user_roles ur JOIN roles r ON r.id = ur.role_id JOIN users u ON u.id = ur.user_id
WHERE r.name = 'ADMIN' AND ur.is_active AND u.is_active
"""

ROLES_HELD = """
SELECT array_agg(r.name ORDER BY r.name) FILTER (WHERE ur.is_active) FROM user_roles ur
JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = %s
"""


async def login_row(factory, user_id):
    return await factory.fetchone("SELECT full_name, phone, email, is_active FROM users WHERE id = %s", (user_id,))


async def test_clinician_routes_change_the_profile_never_the_login(client, factory):
    centre = await factory.centre()
    manager = await factory.staff("CENTRE_MANAGER", [centre])
    # An administrator who also sees patients at this centre.
    admin = await factory.staff("ADMIN", [centre])
    admin_profile = await factory.clinician_profile(admin.id, centre)
    before = await login_row(factory, admin.id)
    for field, value in (("phone", "9845012345"), ("name", "Taken Over"), ("email", "cm@evil.test")):
        resp = await client.put(f"/api/clinicians/{admin_profile}", json={field: value}, headers=manager.headers)
        assert resp.status == 400 and field in error_of(await resp.json())[1], field
    assert await login_row(factory, admin.id) == before
    # The profile itself is the manager's to change.
    resp = await client.put(f"/api/clinicians/{admin_profile}", json={"consultationFee": 900},
                            headers=manager.headers)
    assert resp.status == 200 and (await resp.json())["data"]["consultationFee"] == 900


async def test_a_centre_manager_changes_only_their_own_clinicians_logins(client, factory):
    mine, other = await factory.centre(), await factory.centre()
    manager = await factory.staff("CENTRE_MANAGER", [mine])
    doctor = await factory.staff("CLINICIAN", [mine])
    resp = await client.put(f"/api/users/{doctor.id}", headers=manager.headers,
                            json={"name": "Dr Renamed", "phone": "9845011122", "email": "dr@mibo.test"})
    assert resp.status == 200
    assert await login_row(factory, doctor.id) == ("Dr Renamed", "+919845011122", "dr@mibo.test", True)
    assert (await audit_rows(factory, "user.update", doctor.id))[0][0] == manager.id
    # Never a role or a password, even for their own clinicians.
    for body, field in (({"role": "FRONT_DESK"}, "role"), ({"password": "Chosen-by-cm-1"}, "password")):
        resp = await client.put(f"/api/users/{doctor.id}", json=body, headers=manager.headers)
        assert resp.status == 403 and field in error_of(await resp.json())[1], field
    assert await factory.fetchone("SELECT password_hash IS NULL FROM users WHERE id = %s", (doctor.id,)) == (False,)
    # Not a login that holds other roles, works elsewhere too, or is anyone else's.
    desk = await factory.staff("FRONT_DESK", [mine], login=False)
    desk_doctor = await factory.staff("FRONT_DESK", [mine], login=False)
    await factory.clinician_profile(desk_doctor.id, mine)
    travelling = await factory.staff("CLINICIAN", [mine, other], login=False)
    theirs = await factory.staff("CLINICIAN", [other], login=False)
    for user, body in ((desk, {"isActive": False}), (desk_doctor, {"phone": "9845099999"}),
                       (travelling, {"isActive": False}), (theirs, {"name": "Renamed"}),
                       (manager, {"phone": "9845099999"})):
        before = await login_row(factory, user.id)
        resp = await client.put(f"/api/users/{user.id}", json=body, headers=manager.headers)
        assert (resp.status, error_of(await resp.json())[0]) == (403, "FORBIDDEN"), (user, body)
        assert await login_row(factory, user.id) == before
    # Their own clinician's centres stay among the manager's.
    resp = await client.put(f"/api/users/{doctor.id}", json={"centreIds": [other]}, headers=manager.headers)
    assert resp.status == 403 and error_of(await resp.json())[0] == "CENTRE_FORBIDDEN"
    # Deactivating their clinician ends the clinician's sessions; reactivating brings them back.
    resp = await client.put(f"/api/users/{doctor.id}", json={"isActive": False}, headers=manager.headers)
    assert resp.status == 200 and (await resp.json())["data"]["isActive"] is False
    assert (await client.get("/api/auth/me", headers=doctor.headers)).status == 401
    resp = await client.put(f"/api/users/{doctor.id}", json={"isActive": True}, headers=manager.headers)
    assert resp.status == 200 and (await resp.json())["data"]["isActive"] is True


async def test_removing_a_clinician_profile_keeps_a_login_that_holds_other_roles(client, factory):
    centre = await factory.centre()
    manager = await factory.staff("CENTRE_MANAGER", [centre])
    desk_doctor = await factory.staff("FRONT_DESK", [centre])
    await factory.fetchone(
        "INSERT INTO user_roles (user_id, role_id) SELECT %s, id FROM roles WHERE name = 'CLINICIAN' RETURNING id",
        (desk_doctor.id,))
    profile = await factory.clinician_profile(desk_doctor.id, centre)
    resp = await client.delete(f"/api/clinicians/{profile}", headers=manager.headers)
    assert resp.status == 200 and (await resp.json())["data"]["isActive"] is False
    # Unbookable, no longer a clinician, still the front desk, still signed in.
    assert await factory.fetchone("SELECT is_active FROM users WHERE id = %s", (desk_doctor.id,)) == (True,)
    assert await factory.fetchone(ROLES_HELD, (desk_doctor.id,)) == (["FRONT_DESK"],)
    resp = await client.get("/api/auth/me", headers=desk_doctor.headers)
    assert resp.status == 200 and (await resp.json())["data"]["roles"] == ["FRONT_DESK"]
    rows = await audit_rows(factory, "clinician.deactivate", profile)
    assert rows[0][4] == {"userId": desk_doctor.id, "loginDeactivated": False}
    # Their login deactivated and brought back later, the profile stays removed.
    admin = await factory.staff("ADMIN")
    for active in (False, True):
        resp = await client.put(f"/api/users/{desk_doctor.id}", json={"isActive": active}, headers=admin.headers)
        assert resp.status == 200
    assert await factory.fetchone("SELECT is_active FROM clinician_profiles WHERE id = %s", (profile,)) == (False,)
    # An administrator can make them a clinician again: the same profile comes back.
    resp = await client.post("/api/clinicians", headers=admin.headers,
                             json={"userId": desk_doctor.id, "primaryCentreId": centre, "specialization": "CBT"})
    assert resp.status == 201
    data = (await resp.json())["data"]
    assert (data["id"], data["isActive"], data["specialization"]) == (profile, True, "CBT")
    assert await factory.fetchone(ROLES_HELD, (desk_doctor.id,)) == (["CLINICIAN", "FRONT_DESK"],)


async def test_a_clinician_working_elsewhere_too_keeps_their_login_from_a_centre_manager(client, factory):
    mine, other = await factory.centre(), await factory.centre()
    manager = await factory.staff("CENTRE_MANAGER", [mine])
    doctor = await factory.staff("CLINICIAN", [mine, other])
    resp = await client.delete(f"/api/clinicians/{doctor.clinician_id}", headers=manager.headers)
    assert resp.status == 403
    assert await factory.fetchone("SELECT is_active FROM clinician_profiles WHERE id = %s",
                                  (doctor.clinician_id,)) == (True,)


async def test_nobody_deactivates_demotes_or_promotes_themselves(client, factory):
    centre = await factory.centre()
    admin = await factory.staff("ADMIN")
    other_admin = await factory.staff("ADMIN")
    for method, path, body, field in (
        ("PUT", f"/api/users/{admin.id}", {"isActive": False}, "isActive"),
        ("PUT", f"/api/users/{admin.id}", {"role": "MANAGER"}, "role"),
        ("DELETE", f"/api/users/{admin.id}", None, "id"),
        # The lock-out: become a clinician, then remove that clinician.
        ("POST", "/api/clinicians", {"userId": admin.id, "primaryCentreId": centre, "specialization": "x"},
         "userId"),
    ):
        resp = await client.request(method, path, json=body, headers=admin.headers)
        assert resp.status == 400 and field in error_of(await resp.json())[1], (method, path, body)
    assert await factory.fetchone("SELECT count(*) FROM clinician_profiles") == (0,)
    assert await factory.fetchone(ROLES_HELD, (admin.id,)) == (["ADMIN"],)
    # Changing one's own details, or keeping one's role, is fine.
    resp = await client.put(f"/api/users/{admin.id}", json={"name": "Still Admin", "role": "ADMIN"},
                            headers=admin.headers)
    assert resp.status == 200 and (await resp.json())["data"]["roles"] == ["ADMIN"]
    # A centre manager who is also a clinician cannot remove their own profile either.
    manager = await factory.staff("CENTRE_MANAGER", [centre])
    own = await factory.clinician_profile(manager.id, centre)
    resp = await client.delete(f"/api/clinicians/{own}", headers=manager.headers)
    assert resp.status == 400 and "id" in error_of(await resp.json())[1]
    # Another administrator may demote this one: one active ADMIN remains.
    resp = await client.put(f"/api/users/{admin.id}", json={"role": "MANAGER"}, headers=other_admin.headers)
    assert resp.status == 200
    assert await factory.fetchone(ACTIVE_ADMINS) == (1,)


async def test_a_centre_manager_cannot_make_themselves_a_clinician(client, factory):
    """The road to a patient's notes: self-promotion, availability, a booking, then the notes."""
    centre = await factory.centre()
    manager = await factory.staff("CENTRE_MANAGER", [centre])
    resp = await client.post("/api/clinicians", headers=manager.headers,
                             json={"userId": manager.id, "primaryCentreId": centre, "specialization": "x"})
    assert resp.status == 400 and "userId" in error_of(await resp.json())[1]
    assert await factory.fetchone(ROLES_HELD, (manager.id,)) == (["CENTRE_MANAGER"],)
    assert await factory.fetchone("SELECT count(*) FROM clinician_profiles") == (0,)


async def test_a_clinician_made_by_a_centre_manager_gets_no_password_from_them(client, factory, otp_sender):
    centre = await factory.centre()
    manager = await factory.staff("CENTRE_MANAGER", [centre])
    body = {"name": "Dr New", "phone": "9845066666", "username": "dr.new", "primaryCentreId": centre,
            "specialization": "Psychiatry"}
    resp = await client.post("/api/clinicians", json={**body, "password": "Chosen-by-cm-1"}, headers=manager.headers)
    assert resp.status == 403 and "password" in error_of(await resp.json())[1]
    assert await factory.fetchone("SELECT count(*) FROM users WHERE username = 'dr.new'") == (0,)
    resp = await client.post("/api/clinicians", json=body, headers=manager.headers)
    assert resp.status == 201
    user_id = (await resp.json())["data"]["userId"]
    assert await factory.fetchone("SELECT password_hash IS NULL FROM users WHERE id = %s", (user_id,)) == (True,)
    # The clinician signs in with an OTP sent to their own phone.
    assert (await client.post("/api/auth/send-otp", json={"phone": "9845066666"})).status == 200
    resp = await client.post("/api/auth/login/phone-otp",
                             json={"phone": "9845066666", "otp": otp_sender.last_for("+919845066666")})
    assert resp.status == 200
    # An administrator may set one.
    admin = await factory.staff("ADMIN")
    resp = await client.put(f"/api/users/{user_id}", json={"password": "Set-by-admin-1"}, headers=admin.headers)
    assert resp.status == 200
    resp = await client.post("/api/auth/login/username-password",
                             json={"username": "dr.new", "password": "Set-by-admin-1"})
    assert resp.status == 200


# --- the last active administrator ------------------------------------------------------


async def wait_until_blocked(factory, count: int) -> None:
    """Until `count` other sessions of this database are waiting for a lock."""
    for _ in range(200):
        row = await factory.fetchone(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
        if row[0] >= count:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"fewer than {count} requests waited for the administrators' lock")


@pytest.mark.parametrize("change", [{"isActive": False}, {"role": "MANAGER"}])
async def test_two_administrators_removing_each_other_at_once_leave_one(client, factory, change):
    a, b = await factory.staff("ADMIN"), await factory.staff("ADMIN")
    # Hold the lock the rule takes, so that both requests are inside their transactions before
    # either decides; then let them race.
    async with factory.pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute("BEGIN")
        await cur.execute("SELECT 1 FROM roles WHERE name = 'ADMIN' FOR NO KEY UPDATE")
        requests = [asyncio.ensure_future(client.put(f"/api/users/{target.id}", json=change, headers=actor.headers))
                    for actor, target in ((a, b), (b, a))]
        try:
            await wait_until_blocked(factory, 2)
        finally:
            await cur.execute("COMMIT")
        responses = await asyncio.gather(*requests)
    outcomes = []
    for resp in responses:
        outcomes.append((resp.status, error_of(await resp.json())[0] if resp.status >= 400 else None))
    outcomes.sort()
    assert outcomes == [(200, None), (409, "LAST_ADMIN")]
    assert await factory.fetchone(ACTIVE_ADMINS) == (1,)


async def test_the_database_keeps_an_active_admin_whatever_writes_to_it(factory):
    a, b = await factory.staff("ADMIN", login=False), await factory.staff("ADMIN", login=False)
    async with factory.pool.acquire() as one, factory.pool.acquire() as two:
        async with one.cursor() as first, two.cursor() as second:
            # Each transaction alone leaves an administrator; together they would leave none.
            await first.execute("BEGIN")
            await first.execute("UPDATE users SET is_active = FALSE WHERE id = %s", (a.id,))
            await second.execute("BEGIN")
            await second.execute("DELETE FROM user_roles WHERE user_id = %s", (b.id,))
            results = await asyncio.gather(first.execute("COMMIT"), second.execute("COMMIT"),
                                           return_exceptions=True)
    failures = [result for result in results if isinstance(result, Exception)]
    assert len(failures) == 1
    assert isinstance(failures[0], psycopg2.errors.CheckViolation)
    assert failures[0].diag.constraint_name == "keep_an_active_admin"
    assert await factory.fetchone(ACTIVE_ADMINS) == (1,)
    survivor = a.id if results[0] is not None else b.id
    # Alone, the last one cannot go either...
    for sql in ("UPDATE users SET is_active = FALSE WHERE id = %s",
                "UPDATE user_roles SET is_active = FALSE WHERE user_id = %s",
                "DELETE FROM user_roles WHERE user_id = %s"):
        with pytest.raises(psycopg2.errors.CheckViolation):
            await factory.fetchone(sql + " RETURNING 1", (survivor,))
    # ...while roles rewritten in one transaction, ADMIN among them, are one change that keeps it.
    async with factory.pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute("BEGIN")
        await cur.execute("DELETE FROM user_roles WHERE user_id = %s", (survivor,))
        await cur.execute("INSERT INTO user_roles (user_id, role_id) SELECT %s, id FROM roles WHERE name = 'ADMIN'",
                          (survivor,))
        await cur.execute("COMMIT")
    assert await factory.fetchone(ACTIVE_ADMINS) == (1,)
    # Other users come and go as before.
    desk = await factory.staff("FRONT_DESK", login=False)
    assert await factory.fetchone("UPDATE users SET is_active = FALSE WHERE id = %s RETURNING 1", (desk.id,)) == (1,)
