-- A desk payment takes what is due, unless someone allowed to waive the rest says why: the
-- amount let off and the reason are kept with the payment (who: recorded_by_user_id), and the
-- audit row repeats them.
ALTER TABLE payments
  ADD COLUMN waived_amount NUMERIC(10,2),
  ADD COLUMN waiver_reason TEXT,
  ADD CONSTRAINT payments_waiver_check CHECK (
    (waived_amount IS NULL AND waiver_reason IS NULL)
    OR (waived_amount > 0 AND btrim(waiver_reason) <> '' AND channel = 'DESK'));
