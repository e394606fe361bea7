"""What anyone may see of the chain's clinicians and centres: the public catalogue of the patient website.

Only bookable clinicians (an active profile and login, at an active centre) and only their
public fields: never a phone, an e-mail or a registration number. The consultation modes are
those of the clinician's active availability rules (a rule for ANY offers both).
"""

from __future__ import annotations

from typing import Any

from mibo.core import db
from mibo.core.errors import ApiError

PUBLIC_CLINICIAN = """
SELECT cp.id, cp.user_id, u.full_name, u.full_name AS name, cp.primary_centre_id, c.name AS primary_centre_name,
       cp.specialization, sp.designation, cp.years_of_experience, cp.consultation_fee,
       cp.default_consultation_duration_minutes AS default_duration_minutes, u.avatar_url AS profile_picture_url,
       COALESCE(m.modes, '{}') AS consultation_modes, TRUE AS is_active
FROM clinician_profiles cp
JOIN users u ON u.id = cp.user_id
JOIN centres c ON c.id = cp.primary_centre_id
LEFT JOIN staff_profiles sp ON sp.user_id = u.id
CROSS JOIN LATERAL (
    SELECT array_agg(DISTINCT mode ORDER BY mode) AS modes
    FROM clinician_availability_rules r
    CROSS JOIN LATERAL unnest(CASE r.consultation_mode WHEN 'ANY' THEN ARRAY['IN_PERSON', 'ONLINE']
                                                       ELSE ARRAY[r.consultation_mode::text] END) AS mode
    WHERE r.clinician_id = cp.id AND r.is_active
) m
WHERE cp.is_active AND u.is_active AND c.is_active
"""

PUBLIC_CLINICIANS = PUBLIC_CLINICIAN + """
  AND (%(centre_id)s::bigint IS NULL OR cp.primary_centre_id = %(centre_id)s::bigint)
ORDER BY u.full_name, cp.id
"""

PUBLIC_CLINICIAN_BY_ID = PUBLIC_CLINICIAN + " AND cp.id = %(id)s"


PUBLIC_CENTRE = """
SELECT id, name, city, address_line1, address_line2, pincode, contact_phone, is_active
FROM centres WHERE id = %s AND is_active
"""


async def centre(cur, centre_id: int) -> dict[str, Any]:
    """An active centre's public details (address, phone), or 404."""
    row = await db.fetch_one(cur, PUBLIC_CENTRE, (centre_id,))
    if row is None:
        raise ApiError.not_found("centre")
    return row


async def clinicians(cur, centre_id: int | None = None) -> list[dict[str, Any]]:
    """Every bookable clinician (based at `centre_id`, if given), by name."""
    return await db.fetch_all(cur, PUBLIC_CLINICIANS, {"centre_id": centre_id})


async def clinician(cur, clinician_id: int) -> dict[str, Any]:
    """One bookable clinician, or 404 (an inactive one is not in the catalogue)."""
    row = await db.fetch_one(cur, PUBLIC_CLINICIAN_BY_ID, {"id": clinician_id})
    if row is None:
        raise ApiError.not_found("clinician")
    return row
