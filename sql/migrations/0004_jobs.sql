-- Background jobs: wake the outbox relay on commit, and indexes the job queries use.

-- One notification per INSERT statement, not per row: the relay publishes every unpublished
-- row when it wakes, so 100k reminder rows inserted at once cost one NOTIFY, not 100k.
-- NOTIFY is delivered only when the transaction commits, which is exactly "after commit".
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outbox', '');
  RETURN NULL;
END $$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- Cleanup of old published rows (their dedupe keys are only needed while the work is fresh).
CREATE INDEX outbox_published_idx ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Notification history filters by kind.
CREATE INDEX notification_logs_kind_idx ON notification_logs (kind, created_at);
