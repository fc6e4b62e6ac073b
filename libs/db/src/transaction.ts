import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema';

/** Something queries can run on: the database itself or an open transaction. */
export type Executor = Kysely<Database> | Transaction<Database>;

/**
 * An open unit of work. `afterCommit` callbacks run only once the transaction has
 * committed (never on rollback): the place to nudge workers or flush the audit sink.
 */
export interface Tx {
  readonly db: Transaction<Database>;
  afterCommit(callback: () => void | Promise<void>): void;
}

export type AfterCommitErrorHandler = (error: unknown) => void;

export class TransactionRunner {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly onCallbackError: AfterCommitErrorHandler = () => undefined,
  ) {}

  async run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const callbacks: Array<() => void | Promise<void>> = [];
    const result = await this.db
      .transaction()
      .execute((trx) => work({ db: trx, afterCommit: (cb) => void callbacks.push(cb) }));
    for (const callback of callbacks) {
      try {
        await callback();
      } catch (error) {
        this.onCallbackError(error);
      }
    }
    return result;
  }
}
