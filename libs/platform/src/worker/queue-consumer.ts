import type { OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import type { QueueName } from '@marvain/contracts';
import type { HubConfig } from '../config/hub-config';
import type { LoggerFactory } from '../logging/hub-logger';
import type { MessageQueue, ReceivedMessage } from '../queue/message-queue';
import { QueueWorker, type MessageOutcome } from './queue-worker';

/**
 * A feature's queue consumer: what one message means (`handle`) and what a dead-lettered one
 * leaves behind (`deadLettered`). In the local runtime it polls in-process from start-up to
 * shutdown; in Lambda nothing polls: the SQS entry's batch worker calls `handle` and
 * `deadLettered` for each record.
 */
export abstract class QueueConsumer<T> implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly worker: QueueWorker<T>;

  protected constructor(
    private readonly config: HubConfig,
    logs: LoggerFactory,
    queue: MessageQueue,
    readonly queueName: QueueName,
    batchSize: number,
  ) {
    this.worker = new QueueWorker<T>(
      queue,
      queueName,
      (message) => this.handle(message.body, message),
      {
        batchSize,
        visibilityTimeoutSeconds: config.queue.visibilityTimeoutSeconds,
        pollIntervalMs: config.queue.pollIntervalMs,
        onDeadLetter: (message, error) => this.deadLettered(message.body, error),
      },
      logs.forContext(`Queue:${queueName}`),
    );
  }

  abstract handle(body: T, message: ReceivedMessage<T>): Promise<void>;

  /** Called after a message went to the dead letters; the body is whatever arrived (it may be malformed). */
  deadLettered(_body: unknown, _error: string): Promise<void> {
    return Promise.resolve();
  }

  /** Handles one received message with ack / retry / dead-letter semantics. */
  process(message: ReceivedMessage<T>): Promise<MessageOutcome> {
    return this.worker.process(message);
  }

  /** Handles whatever is queued now, once (tests, and the CLI's maintenance commands). */
  drainOnce(): Promise<number> {
    return this.worker.drainOnce();
  }

  onApplicationBootstrap(): void {
    if (this.config.workers) {
      this.worker.start();
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.worker.stop();
  }
}
