-- Mibo core schema: every table of the spec plus the ones it uses without defining.
-- Constraint names are explicit: mibo/errors.py maps them to API fields.

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Shared trigger: keep updated_at honest without relying on every UPDATE to set it.
CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END $$;

CREATE TABLE centres (
  id             BIGSERIAL PRIMARY KEY,
  name           VARCHAR(150) NOT NULL,
  city           VARCHAR(100) NOT NULL CONSTRAINT centres_city_check CHECK (city IN ('bangalore', 'kochi', 'mumbai')),
  address_line1  VARCHAR(255),
  address_line2  VARCHAR(255),
  pincode        VARCHAR(20),
  contact_phone  VARCHAR(20),
  timezone       VARCHAR(64) NOT NULL DEFAULT 'Asia/Kolkata',
  is_active      BOOLEAN NOT NULL DEFAULT TRUE,
  created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX centres_city_idx ON centres (city);

CREATE TABLE users (
  id             BIGSERIAL PRIMARY KEY,
  phone          VARCHAR(20) CONSTRAINT users_phone_key UNIQUE,
  email          VARCHAR(255),
  username       VARCHAR(50),
  password_hash  TEXT,
  full_name      VARCHAR(150) NOT NULL CONSTRAINT users_full_name_check CHECK (btrim(full_name) <> ''),
  avatar_url     TEXT,
  user_type      VARCHAR(20) NOT NULL CONSTRAINT users_user_type_check CHECK (user_type IN ('PATIENT', 'STAFF')),
  is_active      BOOLEAN NOT NULL DEFAULT TRUE,
  created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- E-mails and usernames are unique regardless of case: "Asha@x.in" and "asha@x.in" are one person.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE INDEX users_full_name_idx ON users (lower(full_name) text_pattern_ops);

CREATE TABLE roles (
  id           BIGSERIAL PRIMARY KEY,
  name         VARCHAR(50) NOT NULL CONSTRAINT roles_name_key UNIQUE,
  description  TEXT,
  created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO roles (name, description) VALUES
  ('ADMIN', 'Full access to all endpoints and all centres'),
  ('MANAGER', 'All centres: bookings and analytics'),
  ('CENTRE_MANAGER', 'Assigned centres: clinicians and bookings'),
  ('CLINICIAN', 'Own appointments only'),
  ('CARE_COORDINATOR', 'Manage appointments for assigned centres'),
  ('FRONT_DESK', 'Book and view appointments for assigned centres');

-- A role held by a user; centre_id is NULL for a chain-wide grant.
CREATE TABLE user_roles (
  id          BIGSERIAL PRIMARY KEY,
  user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role_id     BIGINT NOT NULL REFERENCES roles(id),
  centre_id   BIGINT REFERENCES centres(id),
  is_active   BOOLEAN NOT NULL DEFAULT TRUE,
  created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX user_roles_unique ON user_roles (user_id, role_id, COALESCE(centre_id, 0));
CREATE INDEX user_roles_user_idx ON user_roles (user_id) WHERE is_active;

-- Which centres a staff member works at: the source of centre scoping.
CREATE TABLE centre_staff_assignments (
  id          BIGSERIAL PRIMARY KEY,
  centre_id   BIGINT NOT NULL REFERENCES centres(id),
  user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  is_active   BOOLEAN NOT NULL DEFAULT TRUE,
  created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
  CONSTRAINT centre_staff_assignments_key UNIQUE (user_id, centre_id)
);
CREATE INDEX centre_staff_assignments_centre_idx ON centre_staff_assignments (centre_id) WHERE is_active;

CREATE TABLE staff_profiles (
  id           BIGSERIAL PRIMARY KEY,
  user_id      BIGINT NOT NULL CONSTRAINT staff_profiles_user_id_key UNIQUE REFERENCES users(id) ON DELETE CASCADE,
  designation  VARCHAR(150),
  department   VARCHAR(150),
  is_active    BOOLEAN NOT NULL DEFAULT TRUE,
  created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE patient_profiles (
  id                       BIGSERIAL PRIMARY KEY,
  user_id                  BIGINT NOT NULL CONSTRAINT patient_profiles_user_id_key UNIQUE REFERENCES users(id),
  date_of_birth            DATE,
  gender                   VARCHAR(20),
  blood_group              VARCHAR(10),
  emergency_contact_name   VARCHAR(150),
  emergency_contact_phone  VARCHAR(20),
  notes                    TEXT,
  is_active                BOOLEAN NOT NULL DEFAULT TRUE,
  created_at               TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at               TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE clinician_profiles (
  id                                     BIGSERIAL PRIMARY KEY,
  user_id                                BIGINT NOT NULL CONSTRAINT clinician_profiles_user_id_key UNIQUE REFERENCES users(id),
  primary_centre_id                      BIGINT NOT NULL REFERENCES centres(id),
  specialization                         VARCHAR(150) NOT NULL,
  registration_number                    VARCHAR(100) CONSTRAINT clinician_profiles_registration_number_key UNIQUE,
  years_of_experience                    INTEGER NOT NULL DEFAULT 0 CONSTRAINT clinician_profiles_experience_check CHECK (years_of_experience BETWEEN 0 AND 80),
  consultation_fee                       NUMERIC(10,2) NOT NULL DEFAULT 0 CONSTRAINT clinician_profiles_fee_check CHECK (consultation_fee >= 0),
  default_consultation_duration_minutes  INTEGER NOT NULL DEFAULT 30 CONSTRAINT clinician_profiles_duration_check CHECK (default_consultation_duration_minutes BETWEEN 5 AND 480),
  -- Scheduling settings (as Cal.com / Easy!Appointments users expect them).
  buffer_before_minutes                  INTEGER NOT NULL DEFAULT 0 CONSTRAINT clinician_profiles_buffer_before_check CHECK (buffer_before_minutes BETWEEN 0 AND 240),
  buffer_after_minutes                   INTEGER NOT NULL DEFAULT 0 CONSTRAINT clinician_profiles_buffer_after_check CHECK (buffer_after_minutes BETWEEN 0 AND 240),
  min_notice_minutes                     INTEGER NOT NULL DEFAULT 0 CONSTRAINT clinician_profiles_min_notice_check CHECK (min_notice_minutes BETWEEN 0 AND 43200),
  booking_horizon_days                   INTEGER NOT NULL DEFAULT 90 CONSTRAINT clinician_profiles_horizon_check CHECK (booking_horizon_days BETWEEN 1 AND 730),
  max_daily_appointments                 INTEGER CONSTRAINT clinician_profiles_daily_cap_check CHECK (max_daily_appointments IS NULL OR max_daily_appointments > 0),
  is_active                              BOOLEAN NOT NULL DEFAULT TRUE,
  created_at                             TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at                             TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX clinician_profiles_centre_idx ON clinician_profiles (primary_centre_id);

-- Weekly wall-clock windows in the centre's time zone. day_of_week: 0 = Monday … 6 = Sunday (ISO - 1).
CREATE TABLE clinician_availability_rules (
  id                     BIGSERIAL PRIMARY KEY,
  clinician_id           BIGINT NOT NULL REFERENCES clinician_profiles(id) ON DELETE CASCADE,
  centre_id              BIGINT NOT NULL REFERENCES centres(id),
  day_of_week            SMALLINT NOT NULL CONSTRAINT availability_rules_day_check CHECK (day_of_week BETWEEN 0 AND 6),
  start_time             TIME NOT NULL,
  end_time               TIME NOT NULL,
  slot_duration_minutes  INTEGER NOT NULL DEFAULT 30 CONSTRAINT availability_rules_slot_check CHECK (slot_duration_minutes BETWEEN 5 AND 480),
  consultation_mode      VARCHAR(20) NOT NULL DEFAULT 'ANY' CONSTRAINT availability_rules_mode_check CHECK (consultation_mode IN ('ANY', 'IN_PERSON', 'ONLINE')),
  is_active              BOOLEAN NOT NULL DEFAULT TRUE,
  created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
  CONSTRAINT availability_rules_window_check CHECK (start_time < end_time),
  -- Two windows of one clinician on one weekday may not overlap (one centre at a time).
  CONSTRAINT availability_rules_no_overlap EXCLUDE USING gist (
    clinician_id WITH =, day_of_week WITH =,
    tsrange('2000-01-01'::date + start_time, '2000-01-01'::date + end_time) WITH &&
  ) WHERE (is_active)
);

CREATE TABLE appointments (
  id                     BIGSERIAL PRIMARY KEY,
  patient_id             BIGINT NOT NULL REFERENCES patient_profiles(id),
  clinician_id           BIGINT NOT NULL REFERENCES clinician_profiles(id),
  centre_id              BIGINT NOT NULL REFERENCES centres(id),
  appointment_type       VARCHAR(30) NOT NULL CONSTRAINT appointments_type_check CHECK (appointment_type IN ('IN_PERSON', 'ONLINE', 'INPATIENT_ASSESSMENT', 'FOLLOW_UP')),
  scheduled_start_at     TIMESTAMPTZ NOT NULL,
  scheduled_end_at       TIMESTAMPTZ NOT NULL,
  duration_minutes       INTEGER NOT NULL CONSTRAINT appointments_duration_check CHECK (duration_minutes BETWEEN 5 AND 480),
  status                 VARCHAR(20) NOT NULL DEFAULT 'BOOKED' CONSTRAINT appointments_status_check CHECK (status IN ('BOOKED', 'CONFIRMED', 'RESCHEDULED', 'COMPLETED', 'CANCELLED', 'NO_SHOW')),
  parent_appointment_id  BIGINT REFERENCES appointments(id),
  booked_by_user_id      BIGINT REFERENCES users(id),
  source                 VARCHAR(30) NOT NULL CONSTRAINT appointments_source_check CHECK (source IN ('WEB_PATIENT', 'ADMIN_FRONT_DESK', 'ADMIN_CARE_COORDINATOR', 'ADMIN_MANAGER')),
  meet_link              TEXT,
  calendar_event_id      TEXT,
  notes                  TEXT,
  cancellation_reason    TEXT,
  is_active              BOOLEAN NOT NULL DEFAULT TRUE,
  created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
  CONSTRAINT appointments_time_check CHECK (scheduled_end_at > scheduled_start_at),
  -- No clinician is ever booked twice at once; no patient is in two places at once.
  CONSTRAINT appointments_no_clinician_overlap EXCLUDE USING gist (
    clinician_id WITH =, tstzrange(scheduled_start_at, scheduled_end_at, '[)') WITH &&
  ) WHERE (status IN ('BOOKED', 'CONFIRMED')),
  CONSTRAINT appointments_no_patient_overlap EXCLUDE USING gist (
    patient_id WITH =, tstzrange(scheduled_start_at, scheduled_end_at, '[)') WITH &&
  ) WHERE (status IN ('BOOKED', 'CONFIRMED'))
);
CREATE INDEX appointments_patient_idx ON appointments (patient_id, scheduled_start_at);
CREATE INDEX appointments_clinician_idx ON appointments (clinician_id, scheduled_start_at);
CREATE INDEX appointments_centre_start_idx ON appointments (centre_id, scheduled_start_at);
CREATE INDEX appointments_start_idx ON appointments (scheduled_start_at);
CREATE INDEX appointments_parent_idx ON appointments (parent_appointment_id) WHERE parent_appointment_id IS NOT NULL;

CREATE TABLE appointment_status_history (
  id                  BIGSERIAL PRIMARY KEY,
  appointment_id      BIGINT NOT NULL REFERENCES appointments(id),
  from_status         VARCHAR(20),
  to_status           VARCHAR(20) NOT NULL,
  changed_by_user_id  BIGINT REFERENCES users(id),
  reason              TEXT,
  created_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX appointment_status_history_appointment_idx ON appointment_status_history (appointment_id, created_at);

CREATE TABLE medical_notes (
  id              BIGSERIAL PRIMARY KEY,
  patient_id      BIGINT NOT NULL REFERENCES patient_profiles(id),
  appointment_id  BIGINT REFERENCES appointments(id),
  centre_id       BIGINT REFERENCES centres(id),
  author_user_id  BIGINT NOT NULL REFERENCES users(id),
  note            TEXT NOT NULL CONSTRAINT medical_notes_note_check CHECK (btrim(note) <> ''),
  created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX medical_notes_patient_idx ON medical_notes (patient_id, created_at);

CREATE TABLE payments (
  id                   BIGSERIAL PRIMARY KEY,
  patient_id           BIGINT NOT NULL REFERENCES patient_profiles(id),
  appointment_id       BIGINT REFERENCES appointments(id),
  provider             VARCHAR(30) NOT NULL DEFAULT 'RAZORPAY' CONSTRAINT payments_provider_check CHECK (provider IN ('RAZORPAY', 'CASH', 'CARD', 'UPI')),
  order_id             VARCHAR(100) CONSTRAINT payments_order_id_key UNIQUE,
  payment_id           VARCHAR(100) CONSTRAINT payments_payment_id_key UNIQUE,
  payment_link_id      VARCHAR(100) CONSTRAINT payments_payment_link_id_key UNIQUE,
  amount               NUMERIC(10,2) NOT NULL CONSTRAINT payments_amount_check CHECK (amount >= 0),
  currency             VARCHAR(10) NOT NULL DEFAULT 'INR',
  status               VARCHAR(20) NOT NULL DEFAULT 'CREATED' CONSTRAINT payments_status_check CHECK (status IN ('CREATED', 'PENDING', 'SUCCESS', 'FAILED', 'REFUNDED')),
  refund_requested_at  TIMESTAMPTZ,
  recorded_by_user_id  BIGINT REFERENCES users(id),
  note                 TEXT,
  failure_reason       TEXT,
  paid_at              TIMESTAMPTZ,
  created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX payments_appointment_idx ON payments (appointment_id);
CREATE INDEX payments_patient_idx ON payments (patient_id);
CREATE INDEX payments_status_paid_idx ON payments (status, paid_at);

CREATE TABLE otp_requests (
  id              BIGSERIAL PRIMARY KEY,
  phone           VARCHAR(20) NOT NULL,
  otp_hash        TEXT NOT NULL,
  purpose         VARCHAR(30) NOT NULL DEFAULT 'LOGIN' CONSTRAINT otp_requests_purpose_check CHECK (purpose IN ('LOGIN', 'SIGNUP', 'PASSWORD_RESET')),
  expires_at      TIMESTAMPTZ NOT NULL,
  is_used         BOOLEAN NOT NULL DEFAULT FALSE,
  attempts_count  INTEGER NOT NULL DEFAULT 0,
  created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX otp_requests_phone_idx ON otp_requests (phone, purpose, created_at DESC);
CREATE INDEX otp_requests_expires_idx ON otp_requests (expires_at);

CREATE TABLE auth_sessions (
  id                  BIGSERIAL PRIMARY KEY,
  user_id             BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  refresh_token_hash  TEXT NOT NULL,
  expires_at          TIMESTAMPTZ NOT NULL,
  revoked_at          TIMESTAMPTZ,
  revoked_reason      VARCHAR(30),
  created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
  rotated_at          TIMESTAMPTZ
);
CREATE INDEX auth_sessions_user_idx ON auth_sessions (user_id) WHERE revoked_at IS NULL;
CREATE INDEX auth_sessions_expires_idx ON auth_sessions (expires_at);

CREATE TABLE notification_logs (
  id                   BIGSERIAL PRIMARY KEY,
  -- One message per purpose, e.g. 'appointment:42:CONFIRMATION:patient', so a retried send never sends twice.
  idempotency_key      VARCHAR(200) NOT NULL CONSTRAINT notification_logs_idempotency_key UNIQUE,
  appointment_id       BIGINT REFERENCES appointments(id),
  user_id              BIGINT REFERENCES users(id),
  channel              VARCHAR(20) NOT NULL DEFAULT 'WHATSAPP' CONSTRAINT notification_logs_channel_check CHECK (channel IN ('WHATSAPP', 'SMS', 'CONSOLE')),
  kind                 VARCHAR(40) NOT NULL,
  template_name        VARCHAR(100),
  recipient_phone      VARCHAR(20),
  payload              JSONB NOT NULL DEFAULT '{}'::jsonb,
  status               VARCHAR(20) NOT NULL DEFAULT 'PENDING' CONSTRAINT notification_logs_status_check CHECK (status IN ('PENDING', 'SENT', 'FAILED', 'SUPERSEDED')),
  provider_message_id  VARCHAR(200),
  attempts             INTEGER NOT NULL DEFAULT 0,
  last_error           TEXT,
  next_attempt_at      TIMESTAMPTZ,
  sent_at              TIMESTAMPTZ,
  created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX notification_logs_appointment_idx ON notification_logs (appointment_id);
CREATE INDEX notification_logs_status_idx ON notification_logs (status, next_attempt_at);
CREATE INDEX notification_logs_created_idx ON notification_logs (created_at);

-- Work for actors is written here in the same transaction as its cause, so none is lost or invented.
CREATE TABLE outbox (
  id            BIGSERIAL PRIMARY KEY,
  actor_name    VARCHAR(100) NOT NULL,
  args          JSONB NOT NULL DEFAULT '[]'::jsonb,
  -- Optional key that makes enqueueing the same work twice a no-op (e.g. 'reminder:42').
  dedupe_key    VARCHAR(200) CONSTRAINT outbox_dedupe_key UNIQUE,
  created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
  published_at  TIMESTAMPTZ,
  attempts      INTEGER NOT NULL DEFAULT 0,
  last_error    TEXT
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;

-- Each provider event is processed once.
CREATE TABLE webhook_events (
  id            BIGSERIAL PRIMARY KEY,
  provider      VARCHAR(30) NOT NULL,
  event_id      VARCHAR(200) NOT NULL,
  event_type    VARCHAR(100) NOT NULL,
  payload       JSONB NOT NULL,
  received_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
  processed_at  TIMESTAMPTZ,
  outcome       VARCHAR(40),
  CONSTRAINT webhook_events_provider_event_key UNIQUE (provider, event_id)
);

CREATE TRIGGER centres_updated_at BEFORE UPDATE ON centres FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER users_updated_at BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER staff_profiles_updated_at BEFORE UPDATE ON staff_profiles FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER patient_profiles_updated_at BEFORE UPDATE ON patient_profiles FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER clinician_profiles_updated_at BEFORE UPDATE ON clinician_profiles FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER appointments_updated_at BEFORE UPDATE ON appointments FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER payments_updated_at BEFORE UPDATE ON payments FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER notification_logs_updated_at BEFORE UPDATE ON notification_logs FOR EACH ROW EXECUTE FUNCTION set_updated_at();
