import { Injectable } from '@nestjs/common';
import type { CommandMessage } from '@marvain/contracts';

/**
 * How a command reaches its device: hand the message to every live connection of the device
 * principal (only `connectionId` when set) and say how many took it. The realtime library
 * implements it for both runtimes (local sockets; DynamoDB's principal index and API Gateway's
 * push on AWS) and binds it on init, since realtime depends on commands and never the reverse.
 */
export interface DeviceLink {
  send(deviceId: string, message: CommandMessage, connectionId?: string): Promise<number>;
}

/**
 * The DeviceLink the runtime bound. Unbound (a process without realtime, a feature spec), nothing
 * is delivered: commands stay queued until a hello of their device.
 */
@Injectable()
export class DeviceLinks implements DeviceLink {
  private link: DeviceLink | null = null;

  bind(link: DeviceLink): void {
    this.link = link;
  }

  async send(deviceId: string, message: CommandMessage, connectionId?: string): Promise<number> {
    return this.link ? this.link.send(deviceId, message, connectionId) : 0;
  }
}
