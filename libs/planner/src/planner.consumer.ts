import { Inject, Injectable } from '@nestjs/common';
import { QueueNames, type EventReference } from '@marvain/contracts';
import { HubConfig, LoggerFactory, MESSAGE_QUEUE, QueueConsumer, type MessageQueue } from '@marvain/platform';
import { PlannerService } from './planner.service';

@Injectable()
export class PlannerConsumer extends QueueConsumer<EventReference> {
  constructor(
    config: HubConfig,
    logs: LoggerFactory,
    @Inject(MESSAGE_QUEUE) queue: MessageQueue,
    private readonly planner: PlannerService,
  ) {
    super(config, logs, queue, QueueNames.Transcripts, 10);
  }

  async handle(body: EventReference): Promise<void> {
    await this.planner.handle(body);
  }

  /** An event that could not be planned still leaves a trace in its agent's audit chain. */
  override async deadLettered(body: unknown, error: string): Promise<void> {
    await this.planner.recordDeadLetter(body, error);
  }
}
