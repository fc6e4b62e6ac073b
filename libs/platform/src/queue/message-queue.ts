import type { QueueName } from '@marvain/contracts';
import type { Tx } from '@marvain/db';

export interface ReceivedMessage<T = Record<string, unknown>> {
  id: string;
  /** Proves this receive; an ack or retry with a stale receipt (after the visibility timeout) does nothing. */
  receipt: string;
  body: T;
  /** How many times the message has been received, this time included. */
  receiveCount: number;
}

export interface SendOptions {
  /** Send as part of this transaction where the adapter can (the local queue table does). */
  tx?: Tx;
  /** A second send with the same key is dropped while the first is queued. */
  dedupKey?: string;
  delaySeconds?: number;
}

/**
 * At-least-once queue with a visibility timeout, receive counting and a dead-letter state:
 * the semantics SQS gives, which the local adapter reproduces on a database table.
 */
export interface MessageQueue {
  send(queue: QueueName, body: Record<string, unknown>, options?: SendOptions): Promise<void>;
  receive<T = Record<string, unknown>>(
    queue: QueueName,
    options: { max: number; visibilityTimeoutSeconds: number },
  ): Promise<ReceivedMessage<T>[]>;
  ack(queue: QueueName, message: ReceivedMessage<unknown>): Promise<void>;
  /** Make the message visible again after a delay, or dead-letter it when it has used its receives. */
  retry(
    queue: QueueName,
    message: ReceivedMessage<unknown>,
    options: { delaySeconds: number; error: string },
  ): Promise<'retrying' | 'dead'>;
  /** Move a message that can never succeed (a poison message) straight to the dead letters. */
  deadLetter(queue: QueueName, message: ReceivedMessage<unknown>, error: string): Promise<void>;
  /**
   * Makes visible now the messages an earlier, crashed process of this hub received and never
   * settled, without counting another receive; returns how many. A local worker calls it at start.
   * SQS has its own visibility semantics: its adapter reclaims nothing.
   */
  reclaimAbandoned(queue: QueueName): Promise<number>;
  /** Called when something was sent (after commit), so an idle local worker polls at once. */
  onSent(listener: (queue: QueueName) => void): void;
}
export const MESSAGE_QUEUE = Symbol('MessageQueue');
