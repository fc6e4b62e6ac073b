import { Inject, Injectable, Optional, type OnModuleInit } from '@nestjs/common';
import { DeviceLinks, type DeviceLink } from '@marvain/commands';
import type { CommandMessage } from '@marvain/contracts';
import { LoggerFactory, type HubLogger } from '@marvain/platform';
import { CONNECTION_PUSH, type ConnectionPush } from './connection-push';
import { CONNECTION_STORE, type ConnectionStore } from './connection-store';
import { LocalWebSocketServer } from './local-websocket.server';

/**
 * How a command reaches its device on either runtime: the device principal's live connections
 * from the ConnectionStore (memory locally, DynamoDB's principal index on AWS), each sent the
 * message by this process's local `ws` server when it holds the socket, else through the
 * ConnectionPush (API Gateway's PostToConnection). Bound to the commands library on init.
 */
@Injectable()
export class DeviceCommandLink implements DeviceLink, OnModuleInit {
  private readonly logger: HubLogger;

  constructor(
    private readonly links: DeviceLinks,
    @Inject(CONNECTION_STORE) private readonly store: ConnectionStore,
    private readonly local: LocalWebSocketServer,
    logs: LoggerFactory,
    @Optional() @Inject(CONNECTION_PUSH) private readonly push: ConnectionPush | null = null,
  ) {
    this.logger = logs.forContext('DeviceCommands');
  }

  onModuleInit(): void {
    this.links.bind(this);
  }

  async send(deviceId: string, message: CommandMessage, connectionId?: string): Promise<number> {
    const ids =
      connectionId !== undefined ? [connectionId] : await this.store.listByPrincipal({ type: 'device', id: deviceId });
    let taken = 0;
    for (const id of ids) {
      try {
        if (await this.local.sendTo(id, message)) {
          taken += 1;
        } else if (this.push && (await this.push.send(id, message)) === 'sent') {
          taken += 1;
        }
      } catch (error) {
        this.logger.warn(`command ${message.command_id}: connection ${id} did not take it: ${String(error)}`);
      }
    }
    return taken;
  }
}
