-- Extensions. pgcrypto is required; vector is used where the server has it
-- (embedded PGlite does; a plain PostgreSQL may not, and then vector search reports itself unavailable).
CREATE EXTENSION IF NOT EXISTS pgcrypto;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
    CREATE EXTENSION IF NOT EXISTS vector;
  END IF;
END
$$;
