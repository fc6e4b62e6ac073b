import { protocol, type PGlite } from '@electric-sql/pglite';
import pg from 'pg';

/**
 * The real database behind the endpoint. Every statement goes through the extended protocol
 * with explicit parameter types (as a JDBC driver sends them) and every value comes back as
 * PostgreSQL's text output, untouched, so the endpoint formats fields the way the service does.
 */
export interface RawField {
  readonly name: string;
  readonly tableID: number;
  readonly columnID: number;
  readonly dataTypeID: number;
  readonly dataTypeModifier: number;
}

export interface RawResult {
  /** null when the statement returns no rows at all (no RowDescription: INSERT without RETURNING, DDL). */
  readonly fields: readonly RawField[] | null;
  readonly rows: ReadonlyArray<ReadonlyArray<string | null>>;
  /** The command tag's verb and count, e.g. INSERT / 1. */
  readonly command: string;
  readonly rowCount: number;
}

/** One connection, held for one autocommit statement or for a whole transaction. */
export interface Session {
  query(text: string, types?: readonly number[], values?: ReadonlyArray<string | null>): Promise<RawResult>;
  release(): void;
}

export interface Backend {
  readonly kind: 'pglite' | 'postgres';
  acquire(): Promise<Session>;
  close(): Promise<void>;
}

/** The Data API's sessions run in UTC: TIMESTAMP-hinted values are read as UTC and timestamptz comes back in UTC. */
export const SESSION_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ['TimeZone', 'UTC'],
  ['DateStyle', 'ISO, MDY'],
  ['IntervalStyle', 'postgres'],
];

function parseCommandTag(tag: string): { command: string; rowCount: number } {
  const parts = tag.trim().split(/\s+/);
  const command = parts[0] ?? '';
  const last = Number(parts.at(-1));
  return { command, rowCount: parts.length > 1 && Number.isInteger(last) ? last : 0 };
}

// ---------------------------------------------------------------------------------------------
// PGlite: one connection, so a session holds a lock until released (a transaction owns the
// database until it ends, exactly like PGlitePool in libs/db).

export class PGliteBackend implements Backend {
  readonly kind = 'pglite' as const;
  private tail: Promise<void> = Promise.resolve();
  private configured = false;

  constructor(
    private readonly pglite: PGlite,
    private readonly options: { closePglite?: boolean } = {},
  ) {}

  async acquire(): Promise<Session> {
    let release!: () => void;
    const previous = this.tail;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    await previous;
    if (!this.configured) {
      this.configured = true;
      const settings = SESSION_SETTINGS.map(([name, value]) => `SET ${name} TO '${value}'`).join('; ');
      await this.pglite.exec(settings);
    }
    let released = false;
    return {
      query: (text, types = [], values = []) => this.run(text, types, values),
      release: () => {
        if (released) {
          return;
        }
        released = true;
        release();
      },
    };
  }

  private async run(text: string, types: readonly number[], values: ReadonlyArray<string | null>): Promise<RawResult> {
    const { serialize } = protocol;
    const parts = [
      serialize.parse({ text, types: [...types] }),
      serialize.bind({ values: [...values] }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.sync(),
    ];
    const message = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
    let offset = 0;
    for (const part of parts) {
      message.set(part, offset);
      offset += part.length;
    }
    // execProtocol is not serialised by PGlite itself; runExclusive keeps any other user out.
    const { messages } = await this.pglite.runExclusive(() => this.pglite.execProtocol(message));
    let fields: RawField[] | null = null;
    const rows: Array<Array<string | null>> = [];
    let tag = '';
    for (const m of messages) {
      if (m.name === 'rowDescription') {
        fields = (m as unknown as { fields: RawField[] }).fields.map(copyField);
      } else if (m.name === 'dataRow') {
        rows.push((m as unknown as { fields: Array<string | null> }).fields);
      } else if (m.name === 'commandComplete') {
        tag = (m as unknown as { text: string }).text;
      }
    }
    return { fields, rows, ...parseCommandTag(tag) };
  }

  async close(): Promise<void> {
    await this.tail;
    if (this.options.closePglite && !this.pglite.closed) {
      await this.pglite.close();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL through node-postgres: a pool; a session is one checked-out client.

/** Hands every value back as the server's text. */
const rawText = (value: string): string => value;

export class PostgresBackend implements Backend {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;

  constructor(url: string, poolSize = 10) {
    const options = SESSION_SETTINGS.map(
      ([name, value]) => `-c ${name}=${value.replace(/[ ,]/g, (c) => `\\${c}`)}`,
    ).join(' ');
    this.pool = new pg.Pool({ connectionString: url, max: poolSize, options });
    this.pool.on('error', () => undefined);
  }

  async acquire(): Promise<Session> {
    const client = await this.pool.connect();
    let released = false;
    return {
      query: async (text, types = [], values = []) => {
        // node-postgres sends `types` as the Parse message's parameter types and asks the same
        // object for result parsers: an array carrying getTypeParser does both.
        const typesWithParsers = Object.assign([...types], { getTypeParser: () => rawText });
        const result = await client.query({
          text,
          values: [...values],
          types: typesWithParsers,
          rowMode: 'array',
          queryMode: 'extended',
        } as pg.QueryArrayConfig);
        const fields = result.fields.length > 0 || result.command === 'SELECT' ? result.fields.map(copyField) : null;
        return {
          fields,
          rows: result.rows as Array<Array<string | null>>,
          command: result.command,
          rowCount: result.rowCount ?? 0,
        };
      },
      release: () => {
        if (released) {
          return;
        }
        released = true;
        client.release();
      },
    };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

function copyField(f: RawField): RawField {
  return {
    name: f.name,
    tableID: f.tableID,
    columnID: f.columnID,
    dataTypeID: f.dataTypeID,
    dataTypeModifier: f.dataTypeModifier,
  };
}
