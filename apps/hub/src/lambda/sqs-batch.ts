import type { LoggerService } from '@nestjs/common';
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { QueueName } from '@marvain/contracts';
import { QueueWorker, type HubSettings, type MessageQueue, type ReceivedMessage } from '@marvain/platform';
import { toReceivedMessage } from '@marvain/platform-aws';

/** What a feature does with one message, and (optionally) with one it gave up on: a QueueConsumer. */
export interface QueueHandlers<T> {
  handle(body: T, message: ReceivedMessage<T>): Promise<unknown>;
  deadLettered?(body: unknown, error: string): Promise<void>;
}

/**
 * The MessageQueue that QueueWorker.process sees for one Lambda batch. In Lambda, SQS itself
 * deletes the records the invocation reports as handled and redelivers the ones it reports as
 * failed (and redrives them to the dead-letter queue after maxReceiveCount receives), so ack,
 * retry and dead-letter call nothing: they only note which records must come back.
 */
class LambdaBatch implements MessageQueue {
  private readonly redeliver = new Set<string>();

  constructor(private readonly maxReceives: number) {}

  /** Handled: SQS deletes it with the rest of the successes. */
  ack(): Promise<void> {
    return Promise.resolve();
  }

  /** Poison: already logged and passed to the dead-letter hook; acknowledged, so never retried. */
  deadLetter(): Promise<void> {
    return Promise.resolve();
  }

  /** A transient failure: reported as a batch item failure, so SQS delivers it again after its visibility timeout. */
  retry(_queue: QueueName, message: ReceivedMessage<unknown>): Promise<'retrying' | 'dead'> {
    this.redeliver.add(message.id);
    // From the maxReceives-th receive on, SQS redrives it to the dead-letter queue instead of delivering it again.
    return Promise.resolve(message.receiveCount >= this.maxReceives ? 'dead' : 'retrying');
  }

  failures(): SQSBatchItemFailure[] {
    return [...this.redeliver].map((itemIdentifier) => ({ itemIdentifier }));
  }

  send(): Promise<void> {
    return Promise.reject(new Error('a Lambda batch does not send; sending goes through the MESSAGE_QUEUE provider'));
  }

  receive<T>(): Promise<ReceivedMessage<T>[]> {
    return Promise.reject(new Error('a Lambda batch is received by the event source mapping, not polled'));
  }

  reclaimAbandoned(): Promise<number> {
    return Promise.resolve(0); // SQS redelivers what a crashed invocation held
  }

  onSent(): void {
    // Nothing polls in Lambda; there is no idle worker to wake.
  }
}

/**
 * Handles one SQS event (the function's event source mapping has ReportBatchItemFailures) with
 * the local worker's rules, QueueWorker.process, record by record: a success or a poison message
 * (logged, passed to `deadLettered`) is acknowledged; a transient failure becomes a batch item
 * failure, and when it used the last receive `deadLettered` hears of it before SQS redrives it.
 * One bad record never fails or repeats the others. `queue.maxReceives` must equal the redrive
 * policy's maxReceiveCount.
 */
export async function processSqsBatch<T>(
  event: SQSEvent,
  queueName: QueueName,
  handlers: QueueHandlers<T>,
  queue: HubSettings['queue'],
  logger: LoggerService,
): Promise<SQSBatchResponse> {
  const batch = new LambdaBatch(queue.maxReceives);
  const deadLettered = handlers.deadLettered?.bind(handlers);
  const worker = new QueueWorker<T>(
    batch,
    queueName,
    async (message) => {
      await handlers.handle(message.body, message);
    },
    {
      batchSize: event.Records.length,
      visibilityTimeoutSeconds: queue.visibilityTimeoutSeconds,
      pollIntervalMs: queue.pollIntervalMs,
      // A failed record comes back when its visibility timeout ends; the worker's log says so.
      backoffSeconds: () => queue.visibilityTimeoutSeconds,
      ...(deadLettered
        ? { onDeadLetter: (message: ReceivedMessage<never>, error: string) => deadLettered(message.body, error) }
        : {}),
    },
    logger,
  );
  for (const record of event.Records) {
    await worker.process(toReceivedMessage<T>(record));
  }
  return { batchItemFailures: batch.failures() };
}
