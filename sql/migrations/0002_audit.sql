-- Append-only audit trail: who read or changed what, where, and when.
-- Mental-health records demand it; the trigger makes it impossible to edit history.
CREATE TABLE audit_log (
  id             BIGSERIAL PRIMARY KEY,
  actor_user_id  BIGINT REFERENCES users(id),
  actor_kind     VARCHAR(20) NOT NULL DEFAULT 'USER' CONSTRAINT audit_log_actor_kind_check CHECK (actor_kind IN ('USER', 'SERVICE', 'SYSTEM')),
  action         VARCHAR(60) NOT NULL,
  entity_type    VARCHAR(40) NOT NULL,
  entity_id      BIGINT,
  centre_id      BIGINT REFERENCES centres(id),
  request_id     VARCHAR(64),
  details        JSONB NOT NULL DEFAULT '{}'::jsonb,
  created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_created_idx ON audit_log (created_at);
CREATE INDEX audit_log_entity_idx ON audit_log (entity_type, entity_id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_user_id, created_at);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
