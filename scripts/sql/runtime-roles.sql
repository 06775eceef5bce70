-- The key server's database roles (keyserver/README.md, "Database roles"):
-- pqfile_runtime (NOLOGIN) receives the server's rights from migration V7;
-- pqfile_app (LOGIN) is the role the server connects as. Run as a role with
-- CREATEROLE, once per cluster; idempotent, and safe when several deployers
-- share a cluster (a creation race that was lost counts as success).
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pqfile_runtime') THEN
    CREATE ROLE pqfile_runtime NOLOGIN;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pqfile_app') THEN
    CREATE ROLE pqfile_app LOGIN IN ROLE pqfile_runtime;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
