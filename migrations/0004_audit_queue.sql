-- Audit: the chain head per chain (an agent's id, or 'system'), and every entry in order.
-- Entries are written here in the same transaction as the change they record, then copied
-- to the write-once sink (a folder locally, S3 Object Lock in AWS); sunk_at marks the copy.
CREATE TABLE IF NOT EXISTS audit_state (
  chain_id    text PRIMARY KEY,
  agent_id    uuid REFERENCES agents (agent_id),
  last_seq    bigint NOT NULL CHECK (last_seq >= 0),
  head_hash   text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS audit_entries (
  chain_id    text NOT NULL,
  seq         bigint NOT NULL CHECK (seq >= 1),
  agent_id    uuid,
  body        text NOT NULL,
  hash        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  sunk_at     timestamptz,
  PRIMARY KEY (chain_id, seq)
);
CREATE INDEX IF NOT EXISTS audit_entries_unsunk ON audit_entries (created_at) WHERE sunk_at IS NULL;

-- The local runtime's durable queue (the AWS runtime uses SQS instead).
CREATE TABLE IF NOT EXISTS queue_messages (
  message_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  queue          text NOT NULL,
  body           jsonb NOT NULL,
  dedup_key      text,
  state          text NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'dead')),
  visible_at     timestamptz NOT NULL DEFAULT now(),
  receive_count  integer NOT NULL DEFAULT 0,
  receipt        uuid,
  last_error     text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  dead_at        timestamptz
);
CREATE INDEX IF NOT EXISTS queue_messages_ready ON queue_messages (queue, visible_at) WHERE state = 'ready';
CREATE UNIQUE INDEX IF NOT EXISTS queue_messages_dedup ON queue_messages (queue, dedup_key) WHERE dedup_key IS NOT NULL;
