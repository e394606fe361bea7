-- The chain always keeps an active administrator: the last one can be neither deactivated,
-- demoted nor deleted, by any path. The check runs when the transaction commits, so that a role
-- change written as "delete the roles, insert the new ones" is judged as one change, and under a
-- lock on the ADMIN role's row, so that two transactions each removing a different
-- administrator cannot both see the other one still there: the second waits for the first to
-- commit and then sees it. (FOR NO KEY UPDATE does not conflict with the key-share locks that
-- foreign keys to roles take.)
CREATE FUNCTION keep_an_active_admin() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  admin_role BIGINT := (SELECT id FROM roles WHERE name = 'ADMIN');
BEGIN
  -- Only the loss of an administrator can leave none: an active ADMIN role row going (whoever
  -- holds it), or a user who still holds one going inactive. Both are judged as the transaction
  -- commits, so that a user losing both their roles and their login is still caught.
  IF TG_TABLE_NAME = 'user_roles' THEN
    IF OLD.role_id <> admin_role THEN
      RETURN NULL;
    END IF;
  ELSIF NOT EXISTS (SELECT 1 FROM user_roles WHERE user_id = OLD.id AND role_id = admin_role AND is_active) THEN
    RETURN NULL;
  END IF;
  PERFORM 1 FROM roles WHERE id = admin_role FOR NO KEY UPDATE;
  IF NOT EXISTS (SELECT 1 FROM user_roles ur JOIN users u ON u.id = ur.user_id
                 WHERE ur.role_id = admin_role AND ur.is_active AND u.is_active AND u.user_type = 'STAFF') THEN
    RAISE EXCEPTION 'The last active administrator cannot be deactivated or demoted'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'keep_an_active_admin';
  END IF;
  RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER keep_an_active_admin AFTER UPDATE OF is_active, user_type ON users
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (OLD.is_active AND (NOT NEW.is_active OR NEW.user_type <> 'STAFF'))
  EXECUTE FUNCTION keep_an_active_admin();
CREATE CONSTRAINT TRIGGER keep_an_active_admin AFTER UPDATE ON user_roles
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (OLD.is_active AND (NOT NEW.is_active OR NEW.role_id <> OLD.role_id OR NEW.user_id <> OLD.user_id))
  EXECUTE FUNCTION keep_an_active_admin();
CREATE CONSTRAINT TRIGGER keep_an_active_admin_deleted AFTER DELETE ON user_roles
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.is_active)
  EXECUTE FUNCTION keep_an_active_admin();
