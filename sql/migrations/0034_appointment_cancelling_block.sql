-- The clinician block that cancelled an appointment (set in the block's own transaction), so that the
-- patient is told their clinician became unavailable rather than only that it was cancelled.
ALTER TABLE appointments ADD COLUMN cancelled_by_block_id BIGINT REFERENCES clinician_blocks(id);
