-- Indexes found missing by bench/ops_bench.py (200k appointments).

-- Dashboard follow-ups and leads-by-source count appointments *created* in a period; without
-- this the month dashboard scans the whole table. The type comes second so that counting
-- follow-ups skips the other appointments inside the index, without visiting their rows.
CREATE INDEX appointments_created_idx ON appointments (created_at, appointment_type);

-- A clinician's live appointments near a date (availability, booking, blocks): only live rows,
-- found by their end, so neither the clinician's history nor stale past bookings are scanned.
-- Without it the planner combines the clinician index (every appointment before the date)
-- with the whole exclusion-constraint GiST index.
CREATE INDEX appointments_clinician_live_idx ON appointments (clinician_id, scheduled_end_at)
  WHERE status IN ('BOOKED', 'CONFIRMED');
