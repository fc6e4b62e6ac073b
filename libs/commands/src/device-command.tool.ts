import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DEVICE_COMMAND_KINDS, type DeviceCommandKind } from '@marvain/contracts';
import type { ActionRow } from '@marvain/db';
import { DEFERRED, ToolError, ToolRegistry, type Tool, type ToolDeferred } from '@marvain/actions';
import { IDS, type Ids } from '@marvain/platform';
import { CommandRefused, CommandsService } from './commands.service';

export const DEVICE_COMMAND_DEFAULT_TIMEOUT_SECONDS = 60;
export const DEVICE_COMMAND_MAX_TIMEOUT_SECONDS = 3600;

/**
 * `device_command`: `{device_id, command: 'ping' | 'config' | 'run_action', args?, timeout_seconds?}`.
 * Sends the command (its id derived from the action's, so a redelivered action sends one) and
 * defers: the action stays executing until the device's `cmd.result` completes it, or the
 * command's expiry (the timeout) fails it with `device_offline` / `device_timeout`.
 */
@Injectable()
export class DeviceCommandTool implements Tool, OnModuleInit {
  readonly kind = 'device_command';
  readonly requiredScopes = ['devices:command'] as const;

  constructor(
    private readonly commands: CommandsService,
    private readonly registry: ToolRegistry,
    @Inject(IDS) private readonly ids: Ids,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
  }

  async execute(action: ActionRow): Promise<ToolDeferred> {
    const { device_id: deviceId, command, args, timeout_seconds: timeout } = action.payload;
    if (typeof deviceId !== 'string' || !/^[0-9a-f-]{36}$/i.test(deviceId)) {
      throw new ToolError('device_command needs payload.device_id, a device id');
    }
    if (typeof command !== 'string' || !(DEVICE_COMMAND_KINDS as readonly string[]).includes(command)) {
      throw new ToolError(`device_command needs payload.command, one of ${DEVICE_COMMAND_KINDS.join(', ')}`);
    }
    if (args !== undefined && (args === null || typeof args !== 'object' || Array.isArray(args))) {
      throw new ToolError('device_command payload.args must be an object');
    }
    const ttl = timeout ?? DEVICE_COMMAND_DEFAULT_TIMEOUT_SECONDS;
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > DEVICE_COMMAND_MAX_TIMEOUT_SECONDS) {
      throw new ToolError(
        `device_command payload.timeout_seconds must be an integer from 1 to ${DEVICE_COMMAND_MAX_TIMEOUT_SECONDS}`,
      );
    }
    try {
      await this.commands.createForAction({
        command_id: this.ids.derived(`device_command:${action.action_id}`),
        action_id: action.action_id,
        agent_id: action.agent_id,
        device_id: deviceId.toLowerCase(),
        kind: command as DeviceCommandKind,
        ...(args !== undefined ? { args: args as Record<string, unknown> } : {}),
        ttl_seconds: ttl,
      });
    } catch (error) {
      if (error instanceof CommandRefused) {
        throw new ToolError(error.message);
      }
      throw error;
    }
    return DEFERRED;
  }
}
