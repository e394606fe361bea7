-- Every surface writes the one audit trail: say which surface, and let our own processes
-- (worker steps, periodic jobs, the command line) and patients be named as actors.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_kind_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_actor_kind_check
  CHECK (actor_kind IN ('USER', 'PATIENT', 'SERVICE', 'SYSTEM', 'WORKER', 'SCHEDULER', 'CLI'));
ALTER TABLE audit_log ADD COLUMN surface VARCHAR(20) NOT NULL DEFAULT 'STAFF_API'
  CONSTRAINT audit_log_surface_check
  CHECK (surface IN ('STAFF_API', 'PATIENT_WEB', 'ADMIN_PANEL', 'WORKER', 'SCHEDULER', 'CLI'));
