-- The database decides what is done, not Redis.
--
-- An outbox row is a step of work: it stays open (done_at NULL) until the actor has committed
-- the step's effect. Publishing it to Redis only leases it: due_at moves to the end of the lease,
-- and a row still open when its lease runs out is published again. A new row is due at once.
ALTER TABLE outbox
  ADD COLUMN due_at   TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
  ADD COLUMN done_at  TIMESTAMPTZ;

-- Rows published under the old rule counted as done once Redis had them.
UPDATE outbox SET done_at = published_at WHERE published_at IS NOT NULL;

DROP INDEX outbox_unpublished_idx;
DROP INDEX outbox_published_idx;
-- What the relay publishes next.
CREATE INDEX outbox_due_idx ON outbox (due_at, id) WHERE done_at IS NULL;
-- A step closes every open row of the same actor and arguments (duplicates included).
CREATE INDEX outbox_open_step_idx ON outbox (actor_name, args) WHERE done_at IS NULL;
-- Cleanup of old finished rows.
CREATE INDEX outbox_done_idx ON outbox (done_at) WHERE done_at IS NOT NULL;

-- Which Redis the open steps were published to: its run id and a marker key of ours. A Redis
-- that restarted (empty, or from an older snapshot) or was flushed shows another epoch, and every
-- open step is published again at once instead of waiting for its lease.
CREATE TABLE outbox_broker (
  id          BOOLEAN PRIMARY KEY DEFAULT TRUE CONSTRAINT outbox_broker_one_row CHECK (id),
  epoch       TEXT,
  changed_at  TIMESTAMPTZ
);

-- A WhatsApp send is claimed in its own committed write before Gallabox is called: attempts + 1,
-- when the attempt started, and a lease during which no other worker sends the row. The outcome
-- is written after the call. A row whose lease ran out without an outcome was being sent by a
-- worker that died: the sweep queues it again.
ALTER TABLE notification_logs
  ADD COLUMN attempt_started_at  TIMESTAMPTZ,
  ADD COLUMN lease_until         TIMESTAMPTZ;
