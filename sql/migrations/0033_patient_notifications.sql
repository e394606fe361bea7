-- What the patient website lists under a patient's notifications: one row per event they were told
-- about (a booking, confirmation, reminder, reschedule or cancellation, a payment link, a refund),
-- written in the transaction that queues the WhatsApp message about it. event_key names the event
-- (for an appointment message, the idempotency key of its notification_logs row), so a step run
-- again writes nothing more.
CREATE TABLE patient_notifications (
  id              BIGSERIAL PRIMARY KEY,
  patient_id      BIGINT NOT NULL REFERENCES patient_profiles(id),
  kind            VARCHAR(40) NOT NULL CONSTRAINT patient_notifications_kind_check CHECK (kind IN (
                    'APPOINTMENT_BOOKED', 'APPOINTMENT_CONFIRMED', 'APPOINTMENT_RESCHEDULED',
                    'APPOINTMENT_REMINDER', 'APPOINTMENT_CANCELLED', 'APPOINTMENT_BLOCKED',
                    'PAYMENT_LINK', 'REFUND_INITIATED')),
  title           VARCHAR(200) NOT NULL CONSTRAINT patient_notifications_title_check CHECK (btrim(title) <> ''),
  message         TEXT NOT NULL CONSTRAINT patient_notifications_message_check CHECK (btrim(message) <> ''),
  appointment_id  BIGINT REFERENCES appointments(id),
  metadata        JSONB NOT NULL DEFAULT '{}'::jsonb,
  event_key       VARCHAR(200) NOT NULL CONSTRAINT patient_notifications_event_key UNIQUE,
  read_at         TIMESTAMPTZ,
  created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- A patient's list, newest first, and their unread count.
CREATE INDEX patient_notifications_patient_idx ON patient_notifications (patient_id, created_at DESC, id DESC);
CREATE INDEX patient_notifications_unread_idx ON patient_notifications (patient_id) WHERE read_at IS NULL;
