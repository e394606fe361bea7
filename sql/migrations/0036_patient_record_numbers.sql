-- A hospital's own medical record number for a patient (MRN), given by its staff: optional, and
-- never the same for two patients.
ALTER TABLE patient_profiles
  ADD COLUMN mrn VARCHAR(50) CONSTRAINT patient_profiles_mrn_key UNIQUE;
