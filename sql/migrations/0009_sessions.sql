-- The consultation itself: IN_PROGRESS between the clinician beginning the session and completing
-- it, with both instants. An ongoing session holds its time like a booked one, so the exclusion
-- constraints and the partial index on live appointments take it in (the set LIVE of
-- mibo/domain/appointment_states.py).
ALTER TABLE appointments DROP CONSTRAINT appointments_status_check;
ALTER TABLE appointments ADD CONSTRAINT appointments_status_check
  CHECK (status IN ('BOOKED', 'CONFIRMED', 'IN_PROGRESS', 'RESCHEDULED', 'COMPLETED', 'CANCELLED', 'NO_SHOW'));
ALTER TABLE appointments ADD COLUMN session_started_at TIMESTAMPTZ, ADD COLUMN session_ended_at TIMESTAMPTZ;

ALTER TABLE appointments DROP CONSTRAINT appointments_no_clinician_overlap;
ALTER TABLE appointments DROP CONSTRAINT appointments_no_patient_overlap;
ALTER TABLE appointments ADD CONSTRAINT appointments_no_clinician_overlap EXCLUDE USING gist (
  clinician_id WITH =, tstzrange(scheduled_start_at, scheduled_end_at, '[)') WITH &&
) WHERE (status IN ('BOOKED', 'CONFIRMED', 'IN_PROGRESS'));
ALTER TABLE appointments ADD CONSTRAINT appointments_no_patient_overlap EXCLUDE USING gist (
  patient_id WITH =, tstzrange(scheduled_start_at, scheduled_end_at, '[)') WITH &&
) WHERE (status IN ('BOOKED', 'CONFIRMED', 'IN_PROGRESS'));

DROP INDEX appointments_clinician_live_idx;
CREATE INDEX appointments_clinician_live_idx ON appointments (clinician_id, scheduled_end_at)
  WHERE status IN ('BOOKED', 'CONFIRMED', 'IN_PROGRESS');
