-- Refunds: money paid back through Razorpay, one row per refund asked for.
--
-- REQUESTED (written in the transaction that made the money unwanted, with its outbox step) →
-- PROCESSING (Razorpay accepted it: razorpay_refund_id known) → PROCESSED | FAILED. FAILED is
-- also reached straight from REQUESTED when Razorpay refuses the request (failure_reason says
-- why). `attempts` counts calls made to Razorpay; `last_error` keeps what the last failed one
-- ran into; `attempt_started_at` lets a retry wait until a timed-out call cannot still be running.
CREATE TABLE refunds (
  id                    BIGSERIAL PRIMARY KEY,
  payment_id            BIGINT NOT NULL REFERENCES payments(id),
  amount_paise          BIGINT NOT NULL CONSTRAINT refunds_amount_check CHECK (amount_paise > 0),
  currency              VARCHAR(10) NOT NULL DEFAULT 'INR',
  reason                TEXT NOT NULL CONSTRAINT refunds_reason_check CHECK (btrim(reason) <> ''),
  requested_by_user_id  BIGINT REFERENCES users(id),
  requested_by_surface  VARCHAR(30) NOT NULL,
  status                VARCHAR(20) NOT NULL DEFAULT 'REQUESTED'
    CONSTRAINT refunds_status_check CHECK (status IN ('REQUESTED', 'PROCESSING', 'PROCESSED', 'FAILED')),
  razorpay_refund_id    VARCHAR(100) CONSTRAINT refunds_razorpay_refund_id_key UNIQUE,
  attempts              INTEGER NOT NULL DEFAULT 0,
  attempt_started_at    TIMESTAMPTZ,
  last_error            TEXT,
  failure_reason        TEXT,
  created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
  processing_at         TIMESTAMPTZ,
  processed_at          TIMESTAMPTZ,
  failed_at             TIMESTAMPTZ,
  updated_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
  CONSTRAINT refunds_failure_check CHECK ((status = 'FAILED') = (failure_reason IS NOT NULL)),
  CONSTRAINT refunds_accepted_check CHECK (status NOT IN ('PROCESSING', 'PROCESSED') OR razorpay_refund_id IS NOT NULL)
);
CREATE INDEX refunds_payment_idx ON refunds (payment_id);
-- The reconciler and the waiting-refunds gauge look only at refunds not settled yet.
CREATE INDEX refunds_open_idx ON refunds (status, updated_at) WHERE status IN ('REQUESTED', 'PROCESSING');

CREATE TRIGGER refunds_updated_at BEFORE UPDATE ON refunds FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- The live refunds of a payment (all but FAILED ones) never add up to more than it captured.
-- The payment's row is locked first, so two transactions refunding the same payment take turns:
-- the second sums after the first committed (each statement of the function reads afresh) and
-- sees its refund. (FOR NO KEY UPDATE leaves the key-share locks of foreign keys alone.)
CREATE FUNCTION refunds_within_payment() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  paid_status TEXT;
  paid_paise BIGINT;
  live_paise BIGINT;
BEGIN
  IF NEW.status = 'FAILED' THEN
    RETURN NEW;
  END IF;
  SELECT status, round(amount * 100)::bigint INTO paid_status, paid_paise
  FROM payments WHERE id = NEW.payment_id FOR NO KEY UPDATE;
  IF paid_status IS DISTINCT FROM 'SUCCESS' AND paid_status IS DISTINCT FROM 'REFUNDED' THEN
    RAISE EXCEPTION 'Only a captured payment can be refunded'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'refunds_of_captured_payment';
  END IF;
  SELECT COALESCE(sum(amount_paise), 0) INTO live_paise
  FROM refunds WHERE payment_id = NEW.payment_id AND status <> 'FAILED' AND id <> NEW.id;
  IF live_paise + NEW.amount_paise > paid_paise THEN
    RAISE EXCEPTION 'Refunds of payment % would add up to more than it captured', NEW.payment_id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'refunds_within_payment';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER refunds_within_payment BEFORE INSERT OR UPDATE OF payment_id, amount_paise, status ON refunds
  FOR EACH ROW EXECUTE FUNCTION refunds_within_payment();

-- Which refund a provider event was about, once processing matched it.
ALTER TABLE webhook_events ADD COLUMN matched_refund_id BIGINT REFERENCES refunds(id);
