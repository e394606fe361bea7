-- Which centres a patient and a clinician belong to.
--
-- A patient's record is shown in full only to the centres that care for them: the centre where
-- they registered and every centre where they had an appointment. The database keeps that
-- relationship itself, whichever surface registers or books, so that scope checks, patient
-- lists and the dashboard's count of patients read one small table instead of the whole
-- appointment history. `since` is when the relationship began (the earliest appointment's
-- creation, or the registration).

ALTER TABLE patient_profiles ADD COLUMN registered_centre_id BIGINT
  CONSTRAINT patient_profiles_registered_centre_fkey REFERENCES centres(id);

CREATE TABLE patient_centres (
  patient_id  BIGINT NOT NULL REFERENCES patient_profiles(id) ON DELETE CASCADE,
  centre_id   BIGINT NOT NULL REFERENCES centres(id),
  since       TIMESTAMPTZ NOT NULL,
  CONSTRAINT patient_centres_pkey PRIMARY KEY (patient_id, centre_id)
);
-- A centre's patients as they stood at an instant, counted from the index alone.
CREATE INDEX patient_centres_centre_idx ON patient_centres (centre_id, since, patient_id);
-- The chain's patients as they stood at an instant.
CREATE INDEX patient_profiles_created_idx ON patient_profiles (created_at);

-- Appointments come in bulk too (imports, the benchmark's seed): one statement-level pass.
-- The UPDATE only moves `since` back for rows written with an earlier creation time; in normal
-- operation it matches nothing, so a booking locks no relationship row.
CREATE FUNCTION relate_booked_patients() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO patient_centres (patient_id, centre_id, since)
  SELECT patient_id, centre_id, min(created_at) FROM booked GROUP BY patient_id, centre_id
  ON CONFLICT (patient_id, centre_id) DO NOTHING;
  UPDATE patient_centres pc SET since = b.since
  FROM (SELECT patient_id, centre_id, min(created_at) AS since FROM booked GROUP BY patient_id, centre_id) b
  WHERE pc.patient_id = b.patient_id AND pc.centre_id = b.centre_id AND b.since < pc.since;
  RETURN NULL;
END $$;

CREATE TRIGGER appointments_relate_patients AFTER INSERT ON appointments
  REFERENCING NEW TABLE AS booked FOR EACH STATEMENT EXECUTE FUNCTION relate_booked_patients();

-- An appointment moved to another patient or centre relates them too (the old relationship
-- stays: it existed).
CREATE FUNCTION relate_patient_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'appointments' THEN
    INSERT INTO patient_centres (patient_id, centre_id, since)
    VALUES (NEW.patient_id, NEW.centre_id, NEW.created_at)
    ON CONFLICT (patient_id, centre_id) DO NOTHING;
  ELSE
    INSERT INTO patient_centres (patient_id, centre_id, since)
    VALUES (NEW.id, NEW.registered_centre_id, CASE WHEN TG_OP = 'INSERT' THEN NEW.created_at ELSE now() END)
    ON CONFLICT (patient_id, centre_id) DO NOTHING;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER appointments_relate_moved_patient AFTER UPDATE OF patient_id, centre_id ON appointments
  FOR EACH ROW WHEN (OLD.patient_id IS DISTINCT FROM NEW.patient_id OR OLD.centre_id IS DISTINCT FROM NEW.centre_id)
  EXECUTE FUNCTION relate_patient_row();

CREATE TRIGGER patient_profiles_relate_registration AFTER INSERT OR UPDATE OF registered_centre_id
  ON patient_profiles FOR EACH ROW WHEN (NEW.registered_centre_id IS NOT NULL)
  EXECUTE FUNCTION relate_patient_row();

INSERT INTO patient_centres (patient_id, centre_id, since)
SELECT patient_id, centre_id, min(created_at) FROM appointments GROUP BY patient_id, centre_id;

-- How many patients the chain has (centre_id 0) and each centre has (its patient_centres rows),
-- kept with every insert and delete. The dashboard's count at an instant is this figure less the
-- rows that came after it, so its cost follows the period asked for, not the size of the history.
CREATE TABLE patient_tallies (
  centre_id  BIGINT NOT NULL,
  patients   BIGINT NOT NULL,
  CONSTRAINT patient_tallies_pkey PRIMARY KEY (centre_id)
);

CREATE FUNCTION recount_patients() RETURNS void LANGUAGE sql AS $$
  DELETE FROM patient_tallies;
  INSERT INTO patient_tallies (centre_id, patients) SELECT 0, count(*) FROM patient_profiles;
  INSERT INTO patient_tallies (centre_id, patients)
  SELECT centre_id, count(*) FROM patient_centres GROUP BY centre_id;
$$;

-- Statement-level, over the rows the statement changed (`changed`); tallies in centre order, so
-- that two bulk statements cannot deadlock on them.
CREATE FUNCTION tally_patients() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  step INTEGER := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM recount_patients();
  ELSIF TG_TABLE_NAME = 'patient_profiles' THEN
    INSERT INTO patient_tallies (centre_id, patients) SELECT 0, step * count(*) FROM changed
    ON CONFLICT (centre_id) DO UPDATE SET patients = patient_tallies.patients + EXCLUDED.patients;
  ELSE
    INSERT INTO patient_tallies (centre_id, patients)
    SELECT centre_id, step * count(*) FROM changed GROUP BY centre_id ORDER BY centre_id
    ON CONFLICT (centre_id) DO UPDATE SET patients = patient_tallies.patients + EXCLUDED.patients;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER patient_profiles_tally_added AFTER INSERT ON patient_profiles
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION tally_patients();
CREATE TRIGGER patient_profiles_tally_removed AFTER DELETE ON patient_profiles
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION tally_patients();
CREATE TRIGGER patient_profiles_tally_truncated AFTER TRUNCATE ON patient_profiles
  FOR EACH STATEMENT EXECUTE FUNCTION tally_patients();
CREATE TRIGGER patient_centres_tally_added AFTER INSERT ON patient_centres
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION tally_patients();
CREATE TRIGGER patient_centres_tally_removed AFTER DELETE ON patient_centres
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION tally_patients();
CREATE TRIGGER patient_centres_tally_truncated AFTER TRUNCATE ON patient_centres
  FOR EACH STATEMENT EXECUTE FUNCTION tally_patients();

SELECT recount_patients();

-- Where a clinician works: their primary centre and every centre their user is assigned to.
-- One definition for listing clinicians by centre, their scope, where they may hold
-- availability and the dashboard's count of doctors.
CREATE VIEW clinician_centres AS
SELECT cp.id AS clinician_id, cp.primary_centre_id AS centre_id FROM clinician_profiles cp
UNION
SELECT cp.id, csa.centre_id
FROM clinician_profiles cp JOIN centre_staff_assignments csa ON csa.user_id = cp.user_id AND csa.is_active;
