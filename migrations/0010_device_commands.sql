-- Commands from the hub to a device (cmd.ping, cmd.config, cmd.run_action): durable rows,
-- delivered at least once while their TTL lasts, answered once by the device's cmd.result.
CREATE TABLE IF NOT EXISTS device_commands (
  command_id    uuid PRIMARY KEY,
  agent_id      uuid NOT NULL REFERENCES agents (agent_id),
  device_id     uuid NOT NULL REFERENCES devices (device_id),
  kind          text NOT NULL CHECK (kind IN ('ping', 'config', 'run_action')),
  args          jsonb NOT NULL CHECK (jsonb_typeof(args) = 'object'),
  status        text NOT NULL CHECK (status IN ('queued', 'sent', 'succeeded', 'failed', 'expired')),
  -- The device_command action this command runs for: one command per action, however often the
  -- action is redelivered.
  action_id     uuid UNIQUE REFERENCES actions (action_id),
  requested_by  text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  sent_at       timestamptz,
  completed_at  timestamptz,
  expires_at    timestamptz NOT NULL,
  result        jsonb,
  error         jsonb
);
-- A device's pending commands, oldest first (delivered after each hello).
CREATE INDEX IF NOT EXISTS device_commands_pending ON device_commands (device_id, created_at)
  WHERE status IN ('queued', 'sent');
-- The sweeper finds pending commands past their expiry.
CREATE INDEX IF NOT EXISTS device_commands_expiry ON device_commands (expires_at)
  WHERE status IN ('queued', 'sent');
-- A device's commands, newest first (the list).
CREATE INDEX IF NOT EXISTS device_commands_by_device ON device_commands (device_id, created_at DESC, command_id DESC);
