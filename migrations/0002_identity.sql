-- Agents, users, memberships, spaces, devices, people, consent, presence.
CREATE TABLE IF NOT EXISTS agents (
  agent_id    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  kind        text NOT NULL DEFAULT 'self' CHECK (kind IN ('self', 'llm', 'software', 'service')),
  disabled    boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS users (
  user_id       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  subject       text NOT NULL UNIQUE,
  email         text,
  display_name  text,
  last_seen     timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS agent_memberships (
  membership_id  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_id       uuid NOT NULL REFERENCES agents (agent_id),
  user_id        uuid NOT NULL REFERENCES users (user_id),
  role           text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'guest')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  revoked_at     timestamptz
);
-- At most one active owner per agent, and one active membership per user and agent.
CREATE UNIQUE INDEX IF NOT EXISTS agent_memberships_one_owner
  ON agent_memberships (agent_id) WHERE role = 'owner' AND revoked_at IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS agent_memberships_one_active
  ON agent_memberships (agent_id, user_id) WHERE revoked_at IS NULL;
CREATE INDEX IF NOT EXISTS agent_memberships_by_user ON agent_memberships (user_id) WHERE revoked_at IS NULL;

CREATE TABLE IF NOT EXISTS spaces (
  space_id      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_id      uuid NOT NULL REFERENCES agents (agent_id),
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  privacy_mode  boolean NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (agent_id, name)
);

CREATE TABLE IF NOT EXISTS devices (
  device_id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_id           uuid NOT NULL REFERENCES agents (agent_id),
  name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  token_hash         text NOT NULL UNIQUE,
  scopes             jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(scopes) = 'array'),
  capabilities       jsonb NOT NULL DEFAULT '{}'::jsonb,
  metadata           jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at         timestamptz NOT NULL DEFAULT now(),
  revoked_at         timestamptz,
  last_hello_at      timestamptz,
  last_heartbeat_at  timestamptz
);
CREATE INDEX IF NOT EXISTS devices_by_agent ON devices (agent_id);

CREATE TABLE IF NOT EXISTS people (
  person_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_id      uuid NOT NULL REFERENCES agents (agent_id),
  display_name  text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS consent_grants (
  consent_id    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_id      uuid NOT NULL REFERENCES agents (agent_id),
  person_id     uuid NOT NULL REFERENCES people (person_id),
  consent_type  text NOT NULL CHECK (consent_type IN ('voice', 'face', 'recording_storage')),
  granted_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz,
  revoked_at    timestamptz
);

CREATE TABLE IF NOT EXISTS presence (
  agent_id      uuid NOT NULL REFERENCES agents (agent_id),
  space_id      uuid NOT NULL REFERENCES spaces (space_id),
  subject_type  text NOT NULL CHECK (subject_type IN ('user', 'device', 'agent')),
  subject_id    uuid NOT NULL,
  status        text NOT NULL CHECK (status IN ('online', 'away', 'offline')),
  last_seen     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (space_id, subject_type, subject_id)
);
