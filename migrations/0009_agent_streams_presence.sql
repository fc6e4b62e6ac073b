-- Realtime: every broadcastable change is written to its agent's stream in the transaction that
-- makes it, with a gap-free sequence per agent, so subscribers resume from a seq without loss.

-- The last seq handed out per agent. Taking the next one locks the agent's row until commit, so
-- seqs commit in order and a rolled-back change leaves no gap.
CREATE TABLE IF NOT EXISTS agent_stream_heads (
  agent_id  uuid PRIMARY KEY REFERENCES agents (agent_id),
  last_seq  bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS agent_stream (
  agent_id    uuid NOT NULL REFERENCES agents (agent_id),
  seq         bigint NOT NULL,
  topic       text NOT NULL,
  space_id    uuid,
  data        jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent_id, seq)
);
-- Retention deletes by age.
CREATE INDEX IF NOT EXISTS agent_stream_created ON agent_stream (created_at);

-- Presence maps users, devices and agents to spaces (or to the agent alone, space_id null: a
-- connected console in no particular space). One row per (agent, space or none, subject).
ALTER TABLE presence DROP CONSTRAINT IF EXISTS presence_pkey;
ALTER TABLE presence ALTER COLUMN space_id DROP NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS presence_subject ON presence (agent_id, space_id, subject_type, subject_id) NULLS NOT DISTINCT;
-- The sweeper finds stale online rows by last_seen.
CREATE INDEX IF NOT EXISTS presence_stale ON presence (last_seen) WHERE status <> 'offline';
