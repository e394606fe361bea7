-- Each API process caches who a session belongs to (mibo/principals.py). Any change to the rows
-- behind a principal tells every process, at commit, whose principal changed: the user's id, or
-- '' for everyone (a truncate, or a role renamed). Identical payloads in one transaction are sent
-- once, so a bulk change costs one notification per user.
CREATE FUNCTION principal_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  user_column text := CASE TG_TABLE_NAME WHEN 'users' THEN 'id' ELSE 'user_id' END;
BEGIN
  IF TG_OP = 'TRUNCATE' OR TG_TABLE_NAME = 'roles' THEN
    PERFORM pg_notify('principal_changed', '');
    RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    PERFORM pg_notify('principal_changed', to_jsonb(OLD) ->> user_column);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    PERFORM pg_notify('principal_changed', to_jsonb(NEW) ->> user_column);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER principal_changed AFTER INSERT OR UPDATE OR DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION principal_changed();
CREATE TRIGGER principal_changed AFTER INSERT OR UPDATE OR DELETE ON user_roles
  FOR EACH ROW EXECUTE FUNCTION principal_changed();
CREATE TRIGGER principal_changed AFTER INSERT OR UPDATE OR DELETE ON centre_staff_assignments
  FOR EACH ROW EXECUTE FUNCTION principal_changed();
CREATE TRIGGER principal_changed AFTER INSERT OR UPDATE OR DELETE ON clinician_profiles
  FOR EACH ROW EXECUTE FUNCTION principal_changed();
CREATE TRIGGER principal_changed AFTER UPDATE OR DELETE ON roles
  FOR EACH ROW EXECUTE FUNCTION principal_changed();
-- A new session changes nobody's cached entries; revoking, rotating or deleting one does.
CREATE TRIGGER principal_changed AFTER UPDATE OR DELETE ON auth_sessions
  FOR EACH ROW EXECUTE FUNCTION principal_changed();

CREATE TRIGGER principal_truncated AFTER TRUNCATE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION principal_changed();
CREATE TRIGGER principal_truncated AFTER TRUNCATE ON user_roles
  FOR EACH STATEMENT EXECUTE FUNCTION principal_changed();
CREATE TRIGGER principal_truncated AFTER TRUNCATE ON centre_staff_assignments
  FOR EACH STATEMENT EXECUTE FUNCTION principal_changed();
CREATE TRIGGER principal_truncated AFTER TRUNCATE ON clinician_profiles
  FOR EACH STATEMENT EXECUTE FUNCTION principal_changed();
CREATE TRIGGER principal_truncated AFTER TRUNCATE ON auth_sessions
  FOR EACH STATEMENT EXECUTE FUNCTION principal_changed();
