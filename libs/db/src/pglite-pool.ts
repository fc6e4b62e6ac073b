import type { PGlite } from '@electric-sql/pglite';

/**
 * Presents one PGlite instance as the small part of a node-postgres Pool that Kysely's
 * PostgresDialect uses. PGlite is a single connection, so a checked-out client holds a
 * mutex until released: a transaction never interleaves with another caller's queries.
 */
export class PGlitePool {
  private tail: Promise<void> = Promise.resolve();

  constructor(readonly pglite: PGlite) {}

  async connect(): Promise<PGlitePoolClient> {
    let release!: () => void;
    const previous = this.tail;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    await previous;
    return new PGlitePoolClient(this.pglite, release);
  }

  async end(): Promise<void> {
    await this.tail;
    if (!this.pglite.closed) {
      await this.pglite.close();
    }
  }
}

export class PGlitePoolClient {
  private released = false;

  constructor(
    private readonly pglite: PGlite,
    private readonly onRelease: () => void,
  ) {}

  async query(
    sqlText: string,
    parameters: readonly unknown[],
  ): Promise<{ rows: unknown[]; rowCount: number; command: string }> {
    const result = await this.pglite.query(sqlText, parameters as unknown[], { rowMode: 'object' });
    const command = sqlText.trimStart().split(/\s+/, 1)[0]?.toUpperCase() ?? '';
    return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length, command };
  }

  release(): void {
    if (this.released) {
      return;
    }
    this.released = true;
    this.onRelease();
  }
}
