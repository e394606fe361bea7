-- Payments: how each was taken, payment links, and flags for money that did not add up.

-- CHECKOUT: Razorpay order paid in the browser; PAYMENT_LINK: a Razorpay link sent over
-- WhatsApp by staff; DESK: cash, card or UPI taken at the front desk.
ALTER TABLE payments
  ADD COLUMN channel           VARCHAR(20) NOT NULL DEFAULT 'CHECKOUT'
    CONSTRAINT payments_channel_check CHECK (channel IN ('CHECKOUT', 'PAYMENT_LINK', 'DESK')),
  ADD COLUMN payment_link_url  TEXT,
  ADD COLUMN expires_at        TIMESTAMPTZ,
  -- The desk's own reference: UPI transaction id, card slip number.
  ADD COLUMN reference         VARCHAR(100),
  -- Set when a provider event did not match the stored order (amount, currency) or money
  -- arrived for an appointment that could not take it; staff settle these by hand.
  ADD COLUMN flag_reason       TEXT,
  ADD COLUMN flagged_at        TIMESTAMPTZ;

-- At most one open checkout order and one open payment link per appointment: a retried or
-- concurrent request finds the open one instead of charging twice.
CREATE UNIQUE INDEX payments_open_attempt_key ON payments (appointment_id, channel)
  WHERE status IN ('CREATED', 'PENDING') AND channel <> 'DESK';

-- The reconciliation sweep looks for open payments that have waited too long.
CREATE INDEX payments_open_idx ON payments (updated_at) WHERE status IN ('CREATED', 'PENDING');
CREATE INDEX payments_flagged_idx ON payments (flagged_at) WHERE flagged_at IS NOT NULL;

-- Which payment a provider event was about, once processing matched it.
ALTER TABLE webhook_events
  ADD COLUMN matched_payment_id  BIGINT REFERENCES payments(id);
