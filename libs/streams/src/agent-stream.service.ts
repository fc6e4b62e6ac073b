import { Inject, Injectable } from '@nestjs/common';
import { DomainError, ErrorCode, type StreamEntry } from '@marvain/contracts';
import type { Executor, Tx } from '@marvain/db';
import { StreamRepository, type NewStreamEntry, type StreamFilter } from './stream.repository';
import { STREAM_PUBLISHER, type StreamPublisher } from './stream-publisher';

/** The most entries one read returns; replays page through larger gaps. */
export const STREAM_READ_LIMIT = 500;

/**
 * Each agent's durable stream of broadcastable changes (events.new, actions.updated,
 * memories.new, presence.updated). Services append in the transaction that makes the change;
 * the entry is published only after that transaction commits.
 */
@Injectable()
export class AgentStream {
  constructor(
    private readonly repository: StreamRepository,
    @Inject(STREAM_PUBLISHER) private readonly publisher: StreamPublisher,
  ) {}

  /**
   * Writes the entry in `tx` and publishes it once `tx` commits (never on rollback). The agent's
   * stream head stays locked until then: append after the transaction's audit entries (which lock
   * the agent's audit chain), so concurrent transactions take the two locks in one order.
   */
  async append(tx: Tx, entry: NewStreamEntry): Promise<StreamEntry> {
    const written = await this.repository.append(entry, tx.db);
    tx.afterCommit(() => this.publisher.publish([written]));
    return written;
  }

  /**
   * Entries from `fromSeq` (inclusive), oldest first, at most `limit`. A `fromSeq` whose entries
   * retention already deleted answers `stream_expired`, naming the oldest seq available.
   */
  async read(
    agentId: string,
    fromSeq: number,
    filter: StreamFilter = {},
    limit = STREAM_READ_LIMIT,
    executor?: Executor,
  ): Promise<StreamEntry[]> {
    await this.assertAvailable(agentId, fromSeq, executor);
    return this.repository.readFrom(agentId, fromSeq, Math.min(limit, STREAM_READ_LIMIT), filter, executor);
  }

  /** Refuses a resume point older than what retention kept. */
  async assertAvailable(agentId: string, fromSeq: number, executor?: Executor): Promise<void> {
    if (fromSeq <= 1) {
      const oldest = await this.repository.oldest(agentId, executor);
      if (oldest === null || oldest <= 1) {
        return;
      }
      throw expired(agentId, fromSeq, oldest);
    }
    const oldest = await this.repository.oldest(agentId, executor);
    const head = await this.repository.head(agentId, executor);
    // Entries before the oldest stored one are gone; a stream with none stored lost all up to its head.
    const firstAvailable = oldest ?? head + 1;
    if (fromSeq < firstAvailable) {
      throw expired(agentId, fromSeq, firstAvailable);
    }
  }

  /** The agent's last committed seq (0 before its first change). */
  head(agentId: string, executor?: Executor): Promise<number> {
    return this.repository.head(agentId, executor);
  }

  /** Deletes entries older than `before` (retention); each agent's newest entry stays. */
  prune(before: Date): Promise<number> {
    return this.repository.deleteOlderThan(before);
  }
}

function expired(agentId: string, fromSeq: number, oldest: number): DomainError {
  return new DomainError(
    ErrorCode.StreamExpired,
    `agent ${agentId}'s stream no longer holds seq ${fromSeq}; the oldest available is ${oldest}`,
    { oldest_seq: oldest },
  );
}
