-- Keyset pagination: every list reads its page in (filter…, sort timestamp, id) order, so each
-- one gets an index that serves the filter, the order and the cursor's row comparison without
-- sorting the agent's whole list. Older indexes that are prefixes of these stay (other queries).
CREATE INDEX IF NOT EXISTS actions_page ON actions (agent_id, created_at, action_id);
CREATE INDEX IF NOT EXISTS actions_page_by_status ON actions (agent_id, status, created_at, action_id);
CREATE INDEX IF NOT EXISTS memories_page ON memories (agent_id, created_at, memory_id);
CREATE INDEX IF NOT EXISTS devices_page ON devices (agent_id, created_at, device_id);
CREATE INDEX IF NOT EXISTS spaces_page ON spaces (agent_id, created_at, space_id);
CREATE INDEX IF NOT EXISTS people_page ON people (agent_id, created_at, person_id);
CREATE INDEX IF NOT EXISTS consent_grants_page ON consent_grants (person_id, granted_at, consent_id);
CREATE INDEX IF NOT EXISTS agent_memberships_page ON agent_memberships (agent_id, created_at, membership_id) WHERE revoked_at IS NULL;
CREATE INDEX IF NOT EXISTS agent_credentials_page ON agent_credentials (agent_id, created_at, credential_id);
