-- Local user tokens carry the user's token version (claim `tv`); raising the version revokes
-- every token issued before, on their very next request.
ALTER TABLE users ADD COLUMN IF NOT EXISTS token_version integer NOT NULL DEFAULT 0;

-- One random identity per database, created once. The audit folder (or bucket) records the
-- identity of the database whose chains it holds, so a hub never pairs one with another's.
CREATE TABLE IF NOT EXISTS database_identity (
  singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  database_id  uuid NOT NULL DEFAULT gen_random_uuid(),
  created_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO database_identity (singleton) VALUES (true) ON CONFLICT (singleton) DO NOTHING;
