import { Inject, Injectable } from '@nestjs/common';
import { QueueNames, type ActionReference } from '@marvain/contracts';
import { HubConfig, LoggerFactory, MESSAGE_QUEUE, QueueConsumer, type MessageQueue } from '@marvain/platform';
import { ToolRunnerService } from './tool-runner.service';

@Injectable()
export class ToolRunnerConsumer extends QueueConsumer<ActionReference> {
  constructor(
    config: HubConfig,
    logs: LoggerFactory,
    @Inject(MESSAGE_QUEUE) queue: MessageQueue,
    private readonly runner: ToolRunnerService,
  ) {
    super(config, logs, queue, QueueNames.Actions, 5);
  }

  async handle(body: ActionReference): Promise<void> {
    await this.runner.handle(body);
  }
}
