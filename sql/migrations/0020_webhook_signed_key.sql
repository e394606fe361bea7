-- A webhook's X-Razorpay-Event-Id header is not covered by its signature: a captured event replayed
-- under a new header id used to be stored and processed again. signed_key is taken from the signed
-- body (event type, entity id and entity state; a digest of the body when it names no entity), and
-- each is kept once. Rows from before this migration have none.
ALTER TABLE webhook_events ADD COLUMN signed_key VARCHAR(300);
CREATE UNIQUE INDEX webhook_events_signed_key ON webhook_events (provider, signed_key)
  WHERE signed_key IS NOT NULL;
