-- What a clinician's profile shows besides its scheduling settings: a picture (an uploaded file's
-- URL or one given), a short biography, qualifications, areas of expertise, languages spoken and the
-- consultation modes offered. Shown to staff and patients; no booking rule reads them.
ALTER TABLE clinician_profiles
  ADD COLUMN profile_picture_url VARCHAR(1000),
  ADD COLUMN bio TEXT CONSTRAINT clinician_profiles_bio_check CHECK (length(bio) <= 5000),
  ADD COLUMN qualifications TEXT[] NOT NULL DEFAULT '{}',
  ADD COLUMN expertise TEXT[] NOT NULL DEFAULT '{}',
  ADD COLUMN languages TEXT[] NOT NULL DEFAULT '{}',
  ADD COLUMN consultation_modes TEXT[] NOT NULL DEFAULT '{IN_PERSON,ONLINE}'
    CONSTRAINT clinician_profiles_modes_check
    CHECK (consultation_modes <@ ARRAY['IN_PERSON', 'ONLINE']::text[] AND cardinality(consultation_modes) > 0);
