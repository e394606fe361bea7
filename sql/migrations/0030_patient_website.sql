-- The patient website: the age a patient gives at sign-up, and the one-time registration fee.

-- The website asks for an age, not a date of birth. IF NOT EXISTS: the patient profile routes
-- need the same column, whichever migration brings it first.
ALTER TABLE patient_profiles
  ADD COLUMN IF NOT EXISTS age SMALLINT CONSTRAINT patient_profiles_age_check CHECK (age BETWEEN 0 AND 130);

-- The part of a payment's amount that is the patient's registration fee (0: none). A patient pays
-- it once: at most one payment of a patient carries it while open (CREATED, PENDING) or settled
-- (SUCCESS, REFUNDED), so two first bookings paid at the same moment cannot both charge it. A
-- FAILED payment leaves the index, and the patient unpaid.
ALTER TABLE payments
  ADD COLUMN registration_fee NUMERIC(10,2) NOT NULL DEFAULT 0
    CONSTRAINT payments_registration_fee_check CHECK (registration_fee >= 0 AND registration_fee <= amount);
CREATE UNIQUE INDEX payments_one_registration_fee_key ON payments (patient_id)
  WHERE registration_fee > 0 AND status IN ('CREATED', 'PENDING', 'SUCCESS', 'REFUNDED');
