import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import type { QueueName } from '@marvain/contracts';
import type { MessageQueue, ReceivedMessage, SendOptions } from '@marvain/platform';

/** The message attribute that carries a send's dedup key, for consumers and for tracing. */
export const IDEMPOTENCY_KEY_ATTRIBUTE = 'idempotency_key';

/** SQS limits: a message can be delayed at most 15 minutes and hidden at most 12 hours. */
const MAX_DELAY_SECONDS = 900;
const MAX_VISIBILITY_SECONDS = 43_200;
const MAX_BATCH = 10;
/** SQS attribute values are limited by the message size; an error text is cut well below it. */
const MAX_ERROR_CHARS = 2000;

export interface SqsQueueOptions {
  /** The queue URL for each queue name. */
  queueUrls: Record<QueueName, string>;
  /** Where a poison message is moved at once; without one it is left to the queue's redrive policy. */
  deadLetterQueueUrls?: Partial<Record<QueueName, string>>;
  /** Must equal the redrive policy's maxReceiveCount: from this receive on, a failed message is reported dead. */
  maxReceives: number;
}

/**
 * The AWS runtime's queue: SQS with a redrive policy to a dead-letter queue.
 *
 * `send` ignores `tx`: SQS cannot take part in a database transaction, so the message goes out
 * while the caller's transaction is still open, before its commit. That order is the safe one:
 * a failed send throws inside the transaction callback and rolls the transaction back (no row
 * without its message); a message whose transaction then fails or is slow to commit only
 * references a row the consumer cannot see yet, which the consumer treats as "not yet" and
 * retries (or, if the row never appears, dead-letters). Sending after commit instead could lose
 * the message when the process dies between commit and send. Consumers must therefore treat a
 * reference to a row they cannot see, or see in its pre-commit state, as retryable.
 *
 * Standard queues do not deduplicate: the dedup key travels as the `idempotency_key` message
 * attribute and consumers are idempotent (they key their writes on the referenced id).
 */
export class SqsMessageQueue implements MessageQueue {
  private readonly listeners: Array<(queue: QueueName) => void> = [];

  /** `client` hands out the SDK client; awsAdapters makes it on the first call (see `once` there). */
  constructor(
    private readonly client: () => SQSClient,
    private readonly options: SqsQueueOptions,
  ) {}

  async send(queue: QueueName, body: Record<string, unknown>, options: SendOptions = {}): Promise<void> {
    const attributes: Record<string, MessageAttributeValue> = {};
    if (options.dedupKey) {
      attributes[IDEMPOTENCY_KEY_ATTRIBUTE] = { DataType: 'String', StringValue: options.dedupKey };
    }
    await this.client().send(
      new SendMessageCommand({
        QueueUrl: this.urlOf(queue),
        MessageBody: JSON.stringify(body),
        DelaySeconds: clamp(options.delaySeconds ?? 0, 0, MAX_DELAY_SECONDS),
        ...(Object.keys(attributes).length > 0 ? { MessageAttributes: attributes } : {}),
      }),
    );
    // The message is in SQS now; listeners hear of it after the commit, as the interface promises.
    const notify = (): void => this.listeners.forEach((listener) => listener(queue));
    if (options.tx) {
      options.tx.afterCommit(notify);
    } else {
      notify();
    }
  }

  /** Nothing to do: a message a crashed consumer held comes back when its SQS visibility timeout ends. */
  reclaimAbandoned(): Promise<number> {
    return Promise.resolve(0);
  }

  async receive<T>(
    queue: QueueName,
    options: { max: number; visibilityTimeoutSeconds: number },
  ): Promise<ReceivedMessage<T>[]> {
    const result = await this.client().send(
      new ReceiveMessageCommand({
        QueueUrl: this.urlOf(queue),
        MaxNumberOfMessages: clamp(options.max, 1, MAX_BATCH),
        VisibilityTimeout: clamp(options.visibilityTimeoutSeconds, 0, MAX_VISIBILITY_SECONDS),
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        MessageAttributeNames: ['All'],
      }),
    );
    return (result.Messages ?? []).map((message) =>
      received<T>({
        id: message.MessageId ?? '',
        receipt: message.ReceiptHandle ?? '',
        body: message.Body ?? '',
        receiveCount: message.Attributes?.ApproximateReceiveCount,
      }),
    );
  }

  async ack(queue: QueueName, message: ReceivedMessage<unknown>): Promise<void> {
    await this.client().send(new DeleteMessageCommand({ QueueUrl: this.urlOf(queue), ReceiptHandle: message.receipt }));
  }

  /**
   * Hides the message for the delay; it comes back after it. SQS's redrive policy moves it to the
   * dead-letter queue once it has been received maxReceiveCount times, so from that receive on
   * the answer is 'dead' (the redrive happens when SQS would next deliver it).
   */
  async retry(
    queue: QueueName,
    message: ReceivedMessage<unknown>,
    options: { delaySeconds: number; error: string },
  ): Promise<'retrying' | 'dead'> {
    await this.client().send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.urlOf(queue),
        ReceiptHandle: message.receipt,
        VisibilityTimeout: clamp(options.delaySeconds, 0, MAX_VISIBILITY_SECONDS),
      }),
    );
    return message.receiveCount >= this.options.maxReceives ? 'dead' : 'retrying';
  }

  /**
   * With a dead-letter queue URL configured: copies the message there (same body, the error and
   * origin as attributes), then deletes it. Without one: leaves it alone, so it reappears after its
   * visibility timeout and the redrive policy moves it once its receives are used up.
   */
  async deadLetter(queue: QueueName, message: ReceivedMessage<unknown>, error: string): Promise<void> {
    const dlq = this.options.deadLetterQueueUrls?.[queue];
    if (!dlq) {
      return;
    }
    await this.client().send(
      new SendMessageCommand({
        QueueUrl: dlq,
        MessageBody: typeof message.body === 'string' ? message.body : JSON.stringify(message.body),
        MessageAttributes: {
          dead_letter_error: { DataType: 'String', StringValue: error.slice(0, MAX_ERROR_CHARS) || 'unknown error' },
          source_queue: { DataType: 'String', StringValue: queue },
          source_message_id: { DataType: 'String', StringValue: message.id || 'unknown' },
          receive_count: { DataType: 'Number', StringValue: String(message.receiveCount) },
        },
      }),
    );
    await this.ack(queue, message);
  }

  onSent(listener: (queue: QueueName) => void): void {
    this.listeners.push(listener);
  }

  private urlOf(queue: QueueName): string {
    const url = this.options.queueUrls[queue] as string | undefined;
    if (!url) {
      throw new Error(`no SQS queue URL is configured for the queue "${queue}"`);
    }
    return url;
  }
}

/**
 * A record of an SQS Lambda event as a received message, for the Lambda SQS entries to hand to
 * QueueConsumer.process. A body that is not JSON is passed on as the raw string, so the handler
 * rejects it as poison and the dead-letter hook sees what arrived.
 */
export function toReceivedMessage<T = Record<string, unknown>>(record: SQSRecord): ReceivedMessage<T> {
  return received<T>({
    id: record.messageId,
    receipt: record.receiptHandle,
    body: record.body,
    receiveCount: record.attributes.ApproximateReceiveCount,
  });
}

function received<T>(raw: {
  id: string;
  receipt: string;
  body: string;
  receiveCount: string | undefined;
}): ReceivedMessage<T> {
  let body: unknown;
  try {
    body = JSON.parse(raw.body);
  } catch {
    body = raw.body;
  }
  const count = Number(raw.receiveCount);
  return {
    id: raw.id,
    receipt: raw.receipt,
    body: body as T,
    receiveCount: Number.isInteger(count) && count > 0 ? count : 1,
  };
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.round(value)));
}
