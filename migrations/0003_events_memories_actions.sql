CREATE TABLE IF NOT EXISTS events (
  event_id         uuid PRIMARY KEY,
  seq              bigint GENERATED ALWAYS AS IDENTITY,
  agent_id         uuid NOT NULL REFERENCES agents (agent_id),
  space_id         uuid NOT NULL REFERENCES spaces (space_id),
  source_type      text NOT NULL CHECK (source_type IN ('user', 'device', 'agent', 'system')),
  source_id        uuid NOT NULL,
  type             text NOT NULL CHECK (length(type) BETWEEN 1 AND 100),
  payload          jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
  client_event_id  text CHECK (length(client_event_id) BETWEEN 1 AND 200),
  created_at       timestamptz NOT NULL DEFAULT now()
);
-- A client's retry with the same client_event_id finds the first event instead of writing a second.
CREATE UNIQUE INDEX IF NOT EXISTS events_client_event_id
  ON events (agent_id, source_type, source_id, client_event_id) WHERE client_event_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_by_space_seq ON events (space_id, seq);
CREATE INDEX IF NOT EXISTS events_by_agent_seq ON events (agent_id, seq);

CREATE TABLE IF NOT EXISTS memories (
  memory_id        uuid PRIMARY KEY,
  agent_id         uuid NOT NULL REFERENCES agents (agent_id),
  space_id         uuid REFERENCES spaces (space_id),
  tier             text NOT NULL CHECK (tier IN ('episodic', 'semantic')),
  content          text NOT NULL CHECK (length(content) BETWEEN 1 AND 4000),
  source_event_id  uuid REFERENCES events (event_id),
  provenance       jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS memories_by_agent_created ON memories (agent_id, created_at DESC);

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') THEN
    ALTER TABLE memories ADD COLUMN IF NOT EXISTS embedding vector(256);
  END IF;
END
$$;

CREATE TABLE IF NOT EXISTS actions (
  action_id        uuid PRIMARY KEY,
  agent_id         uuid NOT NULL REFERENCES agents (agent_id),
  space_id         uuid REFERENCES spaces (space_id),
  kind             text NOT NULL CHECK (length(kind) BETWEEN 1 AND 100),
  payload          jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
  required_scopes  jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(required_scopes) = 'array'),
  status           text NOT NULL CHECK (status IN ('proposed', 'approved', 'rejected', 'executing', 'executed', 'failed', 'canceled')),
  reason           text,
  source_event_id  uuid REFERENCES events (event_id),
  approved_by      uuid REFERENCES users (user_id),
  approved_at      timestamptz,
  rejected_by      uuid REFERENCES users (user_id),
  rejected_at      timestamptz,
  result           jsonb,
  error            text,
  completed_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS actions_by_agent_status ON actions (agent_id, status, created_at DESC);

CREATE TABLE IF NOT EXISTS planner_runs (
  run_id      uuid PRIMARY KEY,
  event_id    uuid NOT NULL UNIQUE REFERENCES events (event_id),
  agent_id    uuid NOT NULL REFERENCES agents (agent_id),
  model       text NOT NULL,
  status      text NOT NULL CHECK (status IN ('succeeded', 'skipped', 'failed')),
  output      jsonb,
  error       text,
  created_at  timestamptz NOT NULL DEFAULT now()
);
