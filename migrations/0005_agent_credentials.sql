-- Agents as principals: each agent may hold one active public key, and authenticates with
-- short-lived signed assertions whose ids (jti) are recorded so none is accepted twice.
CREATE TABLE IF NOT EXISTS agent_credentials (
  credential_id  uuid PRIMARY KEY,
  agent_id       uuid NOT NULL REFERENCES agents (agent_id),
  alg            text NOT NULL CHECK (alg IN ('EdDSA', 'ES256')),
  public_key     jsonb NOT NULL CHECK (jsonb_typeof(public_key) = 'object'),
  created_by     uuid REFERENCES users (user_id),
  created_at     timestamptz NOT NULL DEFAULT now(),
  revoked_at     timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS agent_credentials_one_active ON agent_credentials (agent_id) WHERE revoked_at IS NULL;

CREATE TABLE IF NOT EXISTS agent_assertion_jtis (
  agent_id    uuid NOT NULL REFERENCES agents (agent_id),
  jti         text NOT NULL CHECK (length(jti) BETWEEN 8 AND 200),
  expires_at  timestamptz NOT NULL,
  PRIMARY KEY (agent_id, jti)
);
CREATE INDEX IF NOT EXISTS agent_assertion_jtis_expiry ON agent_assertion_jtis (expires_at);
