import type { LoggerService } from '@nestjs/common';
import type { QueueName } from '@marvain/contracts';
import type { MessageQueue, ReceivedMessage } from '../queue/message-queue';

/** Thrown by a handler for a message that can never succeed: it is dead-lettered at once, not retried. */
export class PoisonMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PoisonMessageError';
  }
}

export type MessageHandler<T> = (message: ReceivedMessage<T>) => Promise<void>;

export interface QueueWorkerOptions {
  batchSize: number;
  visibilityTimeoutSeconds: number;
  pollIntervalMs: number;
  /** Seconds before a failed message is tried again, from its receive count. */
  backoffSeconds?: (receiveCount: number) => number;
  /** Called once a message has gone to the dead letters (for audit); its failures are logged, not thrown. */
  onDeadLetter?: (message: ReceivedMessage<never>, error: string) => Promise<void>;
}

export const exponentialBackoff = (receiveCount: number): number => Math.min(300, 2 ** Math.max(0, receiveCount - 1));

/** Outcome of processing one message; the Lambda entries report failures as partial batch failures. */
export type MessageOutcome = 'acked' | 'retrying' | 'dead';

/**
 * Runs a handler over a queue: ack on success, retry with exponential backoff on failure,
 * dead-letter poison messages. The local runtime polls; an idle worker wakes when the
 * queue reports a send.
 */
export class QueueWorker<T> {
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private pending = false;

  constructor(
    private readonly queue: MessageQueue,
    private readonly name: QueueName,
    private readonly handler: MessageHandler<T>,
    private readonly options: QueueWorkerOptions,
    private readonly logger: LoggerService,
  ) {
    queue.onSent((sent) => {
      if (sent === name) {
        this.nudge();
      }
    });
  }

  start(): void {
    if (this.running) {
      return;
    }
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.nudge();
    await this.loop;
    this.loop = null;
  }

  nudge(): void {
    this.pending = true;
    this.wake?.();
  }

  /** Receives and handles one batch; returns how many messages it saw. */
  async drainOnce(): Promise<number> {
    const messages = await this.queue.receive<T>(this.name, {
      max: this.options.batchSize,
      visibilityTimeoutSeconds: this.options.visibilityTimeoutSeconds,
    });
    for (const message of messages) {
      await this.process(message);
    }
    return messages.length;
  }

  async process(message: ReceivedMessage<T>): Promise<MessageOutcome> {
    try {
      await this.handler(message);
      await this.queue.ack(this.name, message);
      return 'acked';
    } catch (error) {
      const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      if (error instanceof PoisonMessageError) {
        await this.queue.deadLetter(this.name, message, text);
        this.logger.error(`${this.name}: message ${message.id} dead-lettered as poison: ${text}`);
        await this.reportDeadLetter(message, text);
        return 'dead';
      }
      const delay = (this.options.backoffSeconds ?? exponentialBackoff)(message.receiveCount);
      const outcome = await this.queue.retry(this.name, message, { delaySeconds: delay, error: text });
      this.logger.warn(
        `${this.name}: message ${message.id} failed (receive ${message.receiveCount}), ${outcome === 'dead' ? 'dead-lettered' : `retrying in ${delay}s`}: ${text}`,
      );
      if (outcome === 'dead') {
        await this.reportDeadLetter(message, text);
      }
      return outcome;
    }
  }

  private async reportDeadLetter(message: ReceivedMessage<T>, error: string): Promise<void> {
    try {
      await this.options.onDeadLetter?.(message as ReceivedMessage<never>, error);
    } catch (hookError) {
      this.logger.error(`${this.name}: recording dead letter ${message.id} failed: ${String(hookError)}`);
    }
  }

  private wasNudged(): boolean {
    return this.pending;
  }

  private isRunning(): boolean {
    return this.running;
  }

  /** What a crashed earlier process of this hub held comes back now, not after its visibility timeout. */
  private async reclaim(): Promise<void> {
    try {
      const reclaimed = await this.queue.reclaimAbandoned(this.name);
      if (reclaimed > 0) {
        this.logger.log({
          msg: 'reclaimed messages a stopped process had received',
          queue: this.name,
          messages: reclaimed,
        });
      }
    } catch (error) {
      // Not fatal: those messages still come back when their visibility timeout ends.
      this.logger.warn(`${this.name}: reclaiming messages of a stopped process failed: ${String(error)}`);
    }
  }

  private async run(): Promise<void> {
    await this.reclaim();
    while (this.running) {
      this.pending = false;
      let seen = 0;
      try {
        seen = await this.drainOnce();
      } catch (error) {
        this.logger.error(`${this.name}: receive failed: ${String(error)}`);
      }
      // Read through a method: nudge() and stop() change these flags while drainOnce() awaits.
      if (seen > 0 || this.wasNudged() || !this.isRunning()) {
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.options.pollIntervalMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }
}
