/**
 * Commands from the hub to a device (spec 002 Phases 1–3). A command is a durable row: created
 * `queued`, `sent` once a connection of its device has been handed it, then `succeeded` or
 * `failed` by the device's `cmd.result`, or `expired` when its TTL passes first. Delivery is
 * at-least-once: a device deduplicates by `command_id`, and a second result changes nothing.
 */
export const DEVICE_COMMAND_KINDS = ['ping', 'config', 'run_action'] as const;
export type DeviceCommandKind = (typeof DEVICE_COMMAND_KINDS)[number];

export const COMMAND_STATUSES = ['queued', 'sent', 'succeeded', 'failed', 'expired'] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];

/** A command's TTL when its sender names none, and the longest one allowed, in seconds. */
export const DEFAULT_COMMAND_TTL_SECONDS = 300;
export const MAX_COMMAND_TTL_SECONDS = 24 * 3600;

/** What each kind carries in `args`. */
export interface DeviceCommandArgs {
  ping: Record<string, never>;
  /** Settings merged into the satellite's config file (never its token, hub URL or command list). */
  config: { settings: Record<string, unknown> };
  /** One of the local commands the device's operator listed, by name, with extra argv when it allows them. */
  run_action: { name: string; args?: string[] };
}

/**
 * Codes a failed command (and a failed `device_command` action) carries. The first two are the
 * hub's; the rest are what a satellite reports in `cmd.result.error.code`.
 */
export const CommandErrorCode = {
  /** The command expired before any connection of its device was handed it. */
  DeviceOffline: 'device_offline',
  /** The command was delivered but no result came back before it expired. */
  DeviceTimeout: 'device_timeout',
  /** `run_action` named a command the device's operator did not list. */
  CommandNotAllowed: 'command_not_allowed',
  /** The local command ran and exited non-zero, or could not be started. */
  CommandFailed: 'command_failed',
  /** The local command ran past its timeout and was killed. */
  CommandTimeout: 'command_timeout',
  /** The command's kind or args were not understood by the device. */
  InvalidCommand: 'invalid_command',
} as const;
export type CommandErrorCode = (typeof CommandErrorCode)[keyof typeof CommandErrorCode];

export interface CommandError {
  code: string;
  message: string;
}

/** A command as REST shows it and `commands.updated` carries it. */
export interface DeviceCommandView {
  command_id: string;
  agent_id: string;
  device_id: string;
  kind: DeviceCommandKind;
  args: Record<string, unknown>;
  status: CommandStatus;
  /** The `device_command` action this command runs for, if any. */
  action_id: string | null;
  /** Who asked: `user:<id>`, `agent:<id>` or `action:<id>`. */
  requested_by: string;
  created_at: string;
  sent_at: string | null;
  completed_at: string | null;
  expires_at: string;
  result: Record<string, unknown> | null;
  error: CommandError | null;
}
