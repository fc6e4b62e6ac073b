-- A presence row held by a LiveKit room: the participant is in the space's room (a verified
-- participant_joined webhook) and stays there until participant_left or
-- participant_connection_aborted, or until the room finishes. It sends no heartbeat, so the
-- sweeper and a WebSocket disconnect leave a held row alone; leaving the room releases it.
ALTER TABLE presence ADD COLUMN IF NOT EXISTS in_room boolean NOT NULL DEFAULT false;
-- The sweeper's candidates are the live rows no room holds.
DROP INDEX IF EXISTS presence_stale;
CREATE INDEX IF NOT EXISTS presence_stale ON presence (last_seen) WHERE status <> 'offline' AND NOT in_room;
