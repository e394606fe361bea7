-- Blocked clinician time: one mechanism for a slot, a range, whole days or a date range (leave, holidays).
-- Whole days are converted to instants in the centre's zone by the API, so a block is always a range of instants.
-- Blocks never overlap one another (while active), so removing a block always frees exactly its time.
CREATE TABLE clinician_blocks (
  id                  BIGSERIAL PRIMARY KEY,
  clinician_id        BIGINT NOT NULL REFERENCES clinician_profiles(id),
  -- NULL: the clinician is unavailable at every centre; otherwise only that centre's slots are blocked.
  centre_id           BIGINT REFERENCES centres(id),
  starts_at           TIMESTAMPTZ NOT NULL,
  ends_at             TIMESTAMPTZ NOT NULL,
  reason              TEXT NOT NULL CONSTRAINT clinician_blocks_reason_check CHECK (btrim(reason) <> ''),
  created_by_user_id  BIGINT REFERENCES users(id),
  created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
  removed_at          TIMESTAMPTZ,
  removed_by_user_id  BIGINT REFERENCES users(id),
  CONSTRAINT clinician_blocks_time_check CHECK (ends_at > starts_at),
  CONSTRAINT clinician_blocks_no_overlap EXCLUDE USING gist (
    clinician_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&
  ) WHERE (removed_at IS NULL)
);
CREATE INDEX clinician_blocks_clinician_idx ON clinician_blocks (clinician_id, starts_at) WHERE removed_at IS NULL;
