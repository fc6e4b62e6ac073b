import { existsSync } from 'node:fs';
import path from 'node:path';
import type { DatabaseBinding, DatabaseIdentityState, DatabaseTarget } from '@marvain/db';
import { AuditSinkConflictError, type AuditSink } from './audit-sink';

/** The object, at the top of the audit folder, naming the database whose chains it holds. */
export const DATABASE_BINDING_KEY = 'database.json';

/** Start-up refused: the audit folder holds another database's audit trail. */
export class AuditFolderMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuditFolderMismatchError';
  }
}

/**
 * Binds the local audit folder to one database. Entries are numbered per chain, so another
 * database's entries would collide with the write-once files already there ("audit objects are
 * write-once") and no start could ever get past them. The folder records the database's
 * identity (migration 0006) on first start; a later start against any other database, or one
 * that would create a new embedded database, is refused before anything is written.
 *
 * Local runtime only. On AWS the bucket and the database are created together by one stack and
 * no setting re-points either at another's, so the mistakes this guards against cannot happen
 * there, and the check would add an S3 read to every Lambda cold start.
 */
export class AuditFolderBinding implements DatabaseBinding {
  constructor(private readonly sink: AuditSink) {}

  async beforeOpen(target: DatabaseTarget): Promise<void> {
    if (target.kind !== 'pglite' || target.dataDir === 'memory') {
      return;
    }
    // PG_VERSION is the first thing initdb writes: without it, opening creates a new database.
    if (existsSync(path.join(target.dataDir, 'PG_VERSION'))) {
      return;
    }
    const bound = await this.boundTo();
    if (bound.databaseId === null && !bound.hasChains) {
      return;
    }
    throw this.mismatch(
      bound.databaseId,
      `the embedded database ${target.dataDir} does not exist, so starting would create a new, empty one there`,
      target,
    );
  }

  async check(state: DatabaseIdentityState, target: DatabaseTarget): Promise<void> {
    const bound = await this.boundTo();
    if (bound.databaseId !== null) {
      if (state.databaseId === bound.databaseId) {
        return;
      }
      const what = state.fresh
        ? `this database (${describe(target)}) is new and empty`
        : state.databaseId
          ? `this database (${describe(target)}) is database ${state.databaseId}`
          : `this database (${describe(target)}) is an older one that has no identity yet`;
      throw this.mismatch(bound.databaseId, what, target);
    }
    // A folder written before databases had identities: only an empty database is surely not its own.
    if (state.fresh && bound.hasChains) {
      throw this.mismatch(null, `this database (${describe(target)}) is new and empty`, target);
    }
  }

  async record(databaseId: string): Promise<void> {
    const body = `${JSON.stringify({ database_id: databaseId })}\n`;
    if ((await this.sink.get(DATABASE_BINDING_KEY)) === body) {
      return;
    }
    try {
      await this.sink.put(DATABASE_BINDING_KEY, body);
    } catch (error) {
      // Another process bound the folder to another database between check and record.
      if (error instanceof AuditSinkConflictError) {
        throw this.mismatch(await this.boundTo().then((b) => b.databaseId), `this database is ${databaseId}`, null);
      }
      throw error;
    }
  }

  private async boundTo(): Promise<{ databaseId: string | null; hasChains: boolean }> {
    const [body, chains] = await Promise.all([this.sink.get(DATABASE_BINDING_KEY), this.sink.list('chains')]);
    if (body === null) {
      return { databaseId: null, hasChains: chains.length > 0 };
    }
    let databaseId: unknown;
    try {
      databaseId = (JSON.parse(body) as { database_id?: unknown }).database_id;
    } catch {
      databaseId = undefined;
    }
    if (typeof databaseId !== 'string' || !databaseId) {
      throw new AuditFolderMismatchError(
        `the audit folder ${this.sink.location} has a ${DATABASE_BINDING_KEY} that names no database; it was edited by hand. Move the folder away or restore that file.`,
      );
    }
    return { databaseId, hasChains: chains.length > 0 };
  }

  private mismatch(boundId: string | null, what: string, target: DatabaseTarget | null): AuditFolderMismatchError {
    const folder = this.sink.location;
    const owner = boundId ? `database ${boundId}` : 'an earlier database';
    const restore =
      target?.kind === 'pglite'
        ? `restore that database: put its embedded folder back at ${target.dataDir}, or, if it is PostgreSQL, set DATABASE_URL to it`
        : 'restore that database: set DATABASE_URL to it, or unset DATABASE_URL if it is the embedded database in the data folder';
    return new AuditFolderMismatchError(
      [
        `the audit folder ${folder} holds the audit trail of ${owner}, but ${what}. Nothing was written. Choose one:`,
        `  - start a new audit trail for this database: move the folder away (mv "${folder}" "${folder}.old"), or point MARVAIN_AUDIT_DIR at another folder;`,
        `  - or ${restore}.`,
      ].join('\n'),
    );
  }
}

function describe(target: DatabaseTarget): string {
  switch (target.kind) {
    case 'pglite':
      return target.dataDir === 'memory'
        ? 'an in-memory embedded database'
        : `the embedded database in ${target.dataDir}`;
    case 'postgres': {
      try {
        const url = new URL(target.url);
        return `PostgreSQL at ${url.host}${url.pathname}`;
      } catch {
        return 'PostgreSQL (DATABASE_URL)';
      }
    }
    case 'data-api':
      return `the Aurora database ${target.database}`;
  }
}
