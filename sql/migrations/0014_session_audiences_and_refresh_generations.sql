-- A session, and every token of it, belongs to one audience: STAFF (the spec's API and the admin
-- panel) or PATIENT (the website). A session's audience is its user's type, so a token made for one
-- surface is refused by the other.
ALTER TABLE auth_sessions
  ADD COLUMN audience VARCHAR(10) NOT NULL DEFAULT 'STAFF'
    CONSTRAINT auth_sessions_audience_check CHECK (audience IN ('STAFF', 'PATIENT')),
  -- Refresh tokens come in generations: sign-in issues generation 0, and a refresh that presents
  -- generation g answers with a successor of generation g + 1. This is the highest generation
  -- presented so far; an older token is retired, so presenting it is reuse. A token is therefore
  -- retired only once a successor of it has been used, and a client that keeps its first token
  -- keeps working until the session's absolute expiry.
  ADD COLUMN refresh_generation INTEGER NOT NULL DEFAULT 0
    CONSTRAINT auth_sessions_refresh_generation_check CHECK (refresh_generation >= 0),
  -- The token last presented before the current generation began, and when: parallel refreshes
  -- may still bring it a moment after its successor was used, which is not reuse.
  ADD COLUMN previous_token_hash TEXT,
  ADD COLUMN previous_rotated_at TIMESTAMPTZ;

-- refresh_token_hash and rotated_at now say which token of the session was last presented, and when
-- (at sign-in: the hash of the token issued, and NULL).

-- OTPs are kept apart per audience, so that asking for a staff code never cancels a patient's.
ALTER TABLE otp_requests
  ADD COLUMN audience VARCHAR(10) NOT NULL DEFAULT 'STAFF'
    CONSTRAINT otp_requests_audience_check CHECK (audience IN ('STAFF', 'PATIENT'));
DROP INDEX otp_requests_phone_idx;
CREATE INDEX otp_requests_phone_idx ON otp_requests (phone, audience, purpose, created_at DESC);

-- Rotating a refresh token changes nothing a cached principal holds: only a change of these
-- columns (or a deleted session) tells the API processes.
DROP TRIGGER principal_changed ON auth_sessions;
CREATE TRIGGER principal_changed AFTER UPDATE OF user_id, audience, revoked_at, expires_at OR DELETE ON auth_sessions
  FOR EACH ROW EXECUTE FUNCTION principal_changed();
