import type { StreamEntry } from '@marvain/contracts';

/**
 * Where committed stream entries go once their transaction commits: the local runtime's
 * in-process bus (read by the WebSocket and SSE deliveries), or on AWS the fan-out to the
 * API Gateway connections subscribed in DynamoDB. Called after commit only, so nothing is
 * broadcast that did not commit; a failure here loses nothing (subscribers read the table).
 */
export interface StreamPublisher {
  publish(entries: readonly StreamEntry[]): void | Promise<void>;
}
export const STREAM_PUBLISHER = Symbol('StreamPublisher');

export type StreamListener = (entries: readonly StreamEntry[]) => void;

/** The local runtime's publisher: hands committed entries to in-process listeners, synchronously. */
export class LocalStreamBus implements StreamPublisher {
  private readonly listeners = new Set<StreamListener>();

  /** Returns the function that removes the listener. */
  listen(listener: StreamListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(entries: readonly StreamEntry[]): void {
    for (const listener of this.listeners) {
      listener(entries);
    }
  }
}
