import { Inject, Injectable } from '@nestjs/common';
import { EventTypes } from '@marvain/contracts';
import type { ActionRow } from '@marvain/db';
import { EventsService } from '@marvain/events';
import { IDS, type Ids } from '@marvain/platform';
import { ToolError, type Tool } from './tool';

/**
 * Passes a message on by recording an outbound message event in the action's space, where
 * satellites and the console see it. The event id is derived from the action id, so running
 * the same action twice records one message.
 */
@Injectable()
export class SendMessageTool implements Tool {
  readonly kind = 'send_message';
  readonly requiredScopes = ['messages:send'] as const;

  constructor(
    private readonly events: EventsService,
    @Inject(IDS) private readonly ids: Ids,
  ) {}

  async execute(action: ActionRow): Promise<Record<string, unknown>> {
    const to = action.payload['to'];
    const text = action.payload['text'];
    if (typeof to !== 'string' || typeof text !== 'string' || !to || !text) {
      throw new ToolError('send_message needs payload.to and payload.text');
    }
    if (!action.space_id) {
      throw new ToolError('send_message needs the space to post into');
    }
    const eventId = this.ids.derived(`send_message:${action.action_id}`);
    const written = await this.events.recordSystemEvent({
      event_id: eventId,
      agent_id: action.agent_id,
      space_id: action.space_id,
      source_type: 'agent',
      source_id: action.agent_id,
      type: EventTypes.MessageOutbound,
      payload: { to, text, action_id: action.action_id },
    });
    return { message_event_id: eventId, to, delivered: 'recorded', first_delivery: written };
  }
}
