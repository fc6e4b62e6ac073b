import {
  BadRequestException,
  DatabaseErrorException,
  HttpEndpointNotEnabledException,
  RDSData,
  TransactionNotFoundException,
  type ExecuteStatementCommandInput,
  type SqlParameter,
} from '@aws-sdk/client-rds-data';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite/vector';
import { sql } from 'kysely';
import { useFakeAwsCredentials } from '@marvain/testing';
import { openDatabase, type DatabaseHandle } from '@marvain/db';
import { PGliteBackend, type Backend } from './backends';
import { startDataApiServer, withRequestTag, type DataApiServer } from './server';

/*
 * The local Data API endpoint, driven by the real RDSDataClient over HTTP, in front of an
 * embedded PGlite (no services needed). With DATABASE_URL set, the transaction tests also run in
 * front of that PostgreSQL server, where two connections really run side by side.
 */

const TARGET = {
  resourceArn: 'arn:aws:rds:us-east-1:000000000000:cluster:spec',
  secretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:spec',
  database: 'spec',
};

useFakeAwsCredentials();

function client(server: DataApiServer): RDSData {
  return new RDSData({ endpoint: server.endpoint, region: 'us-east-1', maxAttempts: 1 });
}

const param = (name: string, value: SqlParameter['value'], typeHint?: SqlParameter['typeHint']): SqlParameter => ({
  name,
  value,
  ...(typeHint ? { typeHint } : {}),
});

let pglite: PGlite;
let server: DataApiServer;
let rds: RDSData;

const execute = (sqlText: string, extra: Partial<ExecuteStatementCommandInput> = {}) =>
  rds.executeStatement({ ...TARGET, sql: sqlText, includeResultMetadata: true, ...extra });

beforeAll(async () => {
  pglite = await PGlite.create({ extensions: { vector } });
  await pglite.exec(`
    CREATE EXTENSION IF NOT EXISTS vector;
    CREATE TABLE things (
      id uuid PRIMARY KEY,
      name text NOT NULL,
      note text,
      doc jsonb,
      at timestamptz,
      n bigint GENERATED ALWAYS AS IDENTITY
    );`);
  server = await startDataApiServer({
    database: { pglite },
    resourceArn: TARGET.resourceArn,
    secretArn: TARGET.secretArn,
    databaseName: TARGET.database,
  });
  rds = client(server);
});

afterAll(async () => {
  rds.destroy();
  await server.close();
  await pglite.close();
});

beforeEach(async () => {
  await pglite.exec('TRUNCATE things RESTART IDENTITY');
});

const ID = '0b7a1c3e-7d52-4d0e-9a55-3c1f5f2a9b10';

describe('parameter typing', () => {
  it('sends a stringValue as text: comparing it with a uuid column fails as on Aurora', async () => {
    const failure = execute('select id from things where id = :0', { parameters: [param('0', { stringValue: ID })] });
    await expect(failure).rejects.toBeInstanceOf(DatabaseErrorException);
    await expect(failure).rejects.toThrow(
      /^ERROR: operator does not exist: uuid = text; Hint: No operator matches the given name and argument types\. You might need to add explicit type casts\.; Position: \d+; SQLState: 42883$/,
    );
  });

  it('sends a stringValue with typeHint UUID as uuid, and a cast in the SQL works too', async () => {
    await execute('insert into things (id, name) values (:0, :1)', {
      parameters: [param('0', { stringValue: ID }, 'UUID'), param('1', { stringValue: 'a' })],
    });
    const hinted = await execute('select name from things where id = :0', {
      parameters: [param('0', { stringValue: ID }, 'UUID')],
    });
    const cast = await execute('select name from things where id = :0::uuid', {
      parameters: [param('0', { stringValue: ID })],
    });
    expect(hinted.records).toEqual([[{ stringValue: 'a' }]]);
    expect(cast.records).toEqual([[{ stringValue: 'a' }]]);
  });

  it('refuses a text value for a jsonb column, and takes it with typeHint JSON or a cast', async () => {
    await expect(
      execute('insert into things (id, name, doc) values (:0::uuid, :1, :2)', {
        parameters: [
          param('0', { stringValue: ID }),
          param('1', { stringValue: 'a' }),
          param('2', { stringValue: '{"a":1}' }),
        ],
      }),
    ).rejects.toThrow(/column "doc" is of type jsonb but expression is of type text.*SQLState: 42804/);
    await execute('insert into things (id, name, doc) values (:0::uuid, :1, :2)', {
      parameters: [
        param('0', { stringValue: ID }),
        param('1', { stringValue: 'a' }),
        param('2', { stringValue: '{"a":1}' }, 'JSON'),
      ],
    });
    const rows = await execute('select doc from things');
    expect(rows.records).toEqual([[{ stringValue: '{"a": 1}' }]]);
  });

  it('types every member of the Field union the way the service does', async () => {
    const result = await execute(
      `select pg_typeof(:s)::text, pg_typeof(:l)::text, pg_typeof(:d)::text, pg_typeof(:b)::text, pg_typeof(:blob)::text,
              pg_typeof(:u)::text, pg_typeof(:j)::text, pg_typeof(:ts)::text, pg_typeof(:dt)::text, pg_typeof(:tm)::text, pg_typeof(:dec)::text,
              :n::int is null`,
      {
        parameters: [
          param('s', { stringValue: 'x' }),
          param('l', { longValue: 7 }),
          param('d', { doubleValue: 1.5 }),
          param('b', { booleanValue: true }),
          param('blob', { blobValue: Buffer.from('hi') }),
          param('u', { stringValue: ID }, 'UUID'),
          param('j', { stringValue: '{}' }, 'JSON'),
          param('ts', { stringValue: '2026-01-02 03:04:05.678' }, 'TIMESTAMP'),
          param('dt', { stringValue: '2026-01-02' }, 'DATE'),
          param('tm', { stringValue: '03:04:05' }, 'TIME'),
          param('dec', { stringValue: '12.50' }, 'DECIMAL'),
          param('n', { isNull: true }),
        ],
      },
    );
    expect(result.records?.[0]?.map((f) => f.stringValue ?? f.booleanValue)).toEqual([
      'text',
      'bigint',
      'double precision',
      'boolean',
      'bytea',
      'uuid',
      'json',
      'timestamp without time zone',
      'date',
      'time without time zone',
      'numeric',
      true,
    ]);
  });

  it('reads a TIMESTAMP-hinted value as UTC, and refuses the ISO form with T and Z as the service does', async () => {
    const result = await execute('select (:0)::timestamptz = :1::timestamptz', {
      parameters: [
        param('0', { stringValue: '2026-01-02 03:04:05.678' }, 'TIMESTAMP'),
        param('1', { stringValue: '2026-01-02T03:04:05.678Z' }),
      ],
    });
    expect(result.records).toEqual([[{ booleanValue: true }]]);
    const iso = execute('select :0', {
      parameters: [param('0', { stringValue: '2026-01-02T03:04:05.678Z' }, 'TIMESTAMP')],
    });
    await expect(iso).rejects.toBeInstanceOf(BadRequestException);
    await expect(iso).rejects.toThrow('Parse Error for TimeStamp: input contains invalid characters');
  });

  it('refuses array parameters and a parameter the SQL names but the call does not give', async () => {
    await expect(
      execute('select :0', { parameters: [param('0', { arrayValue: { longValues: [1] } })] }),
    ).rejects.toBeInstanceOf(BadRequestException);
    await expect(execute('select :0, :1', { parameters: [param('0', { longValue: 1 })] })).rejects.toThrow(
      /No value specified for parameter 2/,
    );
  });
});

describe('results', () => {
  it('answers typed fields per column, with column metadata', async () => {
    await pglite.query(
      `insert into things (id, name, doc, at) values ($1, 'a', '{"k": [1, 2]}', '2026-03-04 05:06:07.123456+02')`,
      [ID],
    );
    const result = await execute(
      `select id, name, note, doc, at, n, 1::int4 as i, 2.5::float8 as f, true as b, 12.30::numeric as dec, '\\x0102'::bytea as blob,
              array['a','b'] as texts, array[1,2]::int8[] as longs, date '2026-03-04' as day, '[1,2,3]'::vector as v
         from things`,
    );
    const [row] = result.records ?? [];
    expect(
      row?.map((f) => Object.keys(f).find((k) => (f as unknown as Record<string, unknown>)[k] !== undefined)),
    ).toEqual([
      'stringValue',
      'stringValue',
      'isNull',
      'stringValue',
      'stringValue',
      'longValue',
      'longValue',
      'doubleValue',
      'booleanValue',
      'stringValue',
      'blobValue',
      'arrayValue',
      'arrayValue',
      'stringValue',
      'stringValue',
    ]);
    expect(row?.[0]).toEqual({ stringValue: ID });
    expect(row?.[3]).toEqual({ stringValue: '{"k": [1, 2]}' });
    // timestamptz: in UTC, without a zone, microseconds kept
    expect(row?.[4]).toEqual({ stringValue: '2026-03-04 03:06:07.123456' });
    expect(row?.[5]).toEqual({ longValue: 1 });
    expect(row?.[9]).toEqual({ stringValue: '12.30' });
    expect(Buffer.from(row?.[10]?.blobValue ?? new Uint8Array())).toEqual(Buffer.from([1, 2]));
    expect(row?.[11]).toEqual({ arrayValue: { stringValues: ['a', 'b'] } });
    expect(row?.[12]).toEqual({ arrayValue: { longValues: [1, 2] } });
    expect(row?.[13]).toEqual({ stringValue: '2026-03-04' });
    expect(row?.[14]).toEqual({ stringValue: '[1,2,3]' });

    const meta = result.columnMetadata ?? [];
    // The JDBC driver behind the service names an auto-incrementing bigint "bigserial".
    expect(meta.map((m) => m.typeName)).toEqual([
      'uuid',
      'text',
      'text',
      'jsonb',
      'timestamptz',
      'bigserial',
      'int4',
      'float8',
      'bool',
      'numeric',
      'bytea',
      '_text',
      '_int8',
      'date',
      'vector',
    ]);
    expect(meta[0]).toMatchObject({ name: 'id', label: 'id', nullable: 0, type: 1111, isSigned: false });
    expect(meta[2]).toMatchObject({ name: 'note', nullable: 1, type: 12, isCaseSensitive: true });
    expect(meta[5]).toMatchObject({ name: 'n', nullable: 0, type: -5, isAutoIncrement: true, isSigned: true });
    expect(meta[6]).toMatchObject({ name: 'i', nullable: 2, type: 4 });
    expect(meta[11]).toMatchObject({ type: 2003, arrayBaseColumnType: 12 });
    expect(result.numberOfRecordsUpdated).toBe(0);
  });

  it('answers a statement without a result set with the count of rows it changed, and no records', async () => {
    const result = await execute(
      "insert into things (id, name) values (gen_random_uuid(), 'a'), (gen_random_uuid(), 'b')",
    );
    expect(result).toMatchObject({ numberOfRecordsUpdated: 2, generatedFields: [] });
    expect(result.records).toBeUndefined();
    expect(result.columnMetadata).toBeUndefined();
  });

  it('formats records as JSON on request', async () => {
    const result = await execute("select 1 as a, 'x' as b, null as c, true as d", { formatRecordsAs: 'JSON' });
    expect(JSON.parse(result.formattedRecords ?? '')).toEqual([{ a: 1, b: 'x', c: null, d: true }]);
    expect(result.records).toBeUndefined();
    expect(result.columnMetadata).toBeUndefined();
  });

  it("fails a result over 1 MiB with the service's BadRequestException, and returns one just under it", async () => {
    const big = execute("select repeat('x', 1024 * 1024)");
    await expect(big).rejects.toBeInstanceOf(BadRequestException);
    await expect(big).rejects.toThrow('Database returned more than the allowed response size limit');
    const fits = await execute("select repeat('x', 1000 * 1000) as x");
    expect(fits.records?.[0]?.[0]?.stringValue).toHaveLength(1_000_000);
  });

  it('refuses more than one statement in one call, and takes one with a trailing semicolon', async () => {
    const many = execute('select 1; select 2');
    await expect(many).rejects.toBeInstanceOf(BadRequestException);
    await expect(many).rejects.toThrow("Multi-statements aren't supported.");
    expect((await execute("select ';' as s;")).records).toEqual([[{ stringValue: ';' }]]);
    await execute('DO $$ BEGIN PERFORM 1; PERFORM 2; END $$');
  });
});

describe('through kysely-data-api', () => {
  let handle: DatabaseHandle;
  beforeAll(async () => {
    handle = await openDatabase({ kind: 'data-api', endpoint: server.endpoint, region: 'us-east-1', ...TARGET });
  });
  afterAll(async () => handle.close());

  it('reads timestamptz back as the same UTC instant, jsonb as objects and bigint as numbers', async () => {
    const at = new Date('2026-05-06T07:08:09.123Z');
    await sql`insert into things (id, name, doc, at) values (${ID}::uuid, 'a', ${JSON.stringify({ k: 'v' })}::jsonb, ${at.toISOString()}::timestamptz)`.execute(
      handle.db,
    );
    // A Date parameter: kysely-data-api sends it with typeHint TIMESTAMP.
    const rows = await sql<{ at: Date; doc: unknown; n: number; same: boolean }>`
      select at, doc, n, at = ${at} as same from things`.execute(handle.db);
    expect(rows.rows).toEqual([{ at, doc: { k: 'v' }, n: 1, same: true }]);
  });

  it("surfaces an SQL error inside a Kysely transaction as the statement's own error, though the service already ended the transaction", async () => {
    // The service ends a transaction at its first error, so the RollbackTransaction Kysely sends
    // next is answered "not found"; the hub's Data API dialect tolerates that rollback, so callers
    // see (and can map) the real database error, e.g. a unique violation to 409.
    let raised: unknown;
    const outcome = handle.db.transaction().execute(async (trx) => {
      await sql`insert into things (id, name) values (${ID}::uuid, 'a')`.execute(trx);
      try {
        await sql`insert into things (id, name) values (${ID}::uuid, 'b')`.execute(trx);
      } catch (error) {
        raised = error;
        throw error;
      }
    });
    await expect(outcome).rejects.toBeInstanceOf(DatabaseErrorException);
    await expect(outcome).rejects.toThrow(/duplicate key value violates unique constraint "things_pkey"/);
    expect(raised).toBeInstanceOf(DatabaseErrorException);
    expect((raised as Error).message).toMatch(
      /duplicate key value violates unique constraint "things_pkey".*SQLState: 23505/,
    );
    expect((await execute('select count(*) from things')).records).toEqual([[{ longValue: 0 }]]);
  });
});

describe('transactions', () => {
  it('commits: statements carrying the id run on the transaction, and the row exists after commit', async () => {
    const { transactionId } = await rds.beginTransaction(TARGET);
    await execute(`insert into things (id, name) values ('${ID}', 'a')`, { transactionId });
    const inside = await execute('select count(*) from things', { transactionId });
    expect(inside.records).toEqual([[{ longValue: 1 }]]);
    expect(await rds.commitTransaction({ ...TARGET, transactionId })).toMatchObject({
      transactionStatus: 'Transaction Committed',
    });
    expect((await execute('select count(*) from things')).records).toEqual([[{ longValue: 1 }]]);
    expect(server.openTransactions()).toBe(0);
  });

  it('rolls back: nothing the transaction wrote remains', async () => {
    const { transactionId } = await rds.beginTransaction(TARGET);
    await execute(`insert into things (id, name) values ('${ID}', 'a')`, { transactionId });
    expect(await rds.rollbackTransaction({ ...TARGET, transactionId })).toMatchObject({
      transactionStatus: 'Rollback Complete',
    });
    expect((await execute('select count(*) from things')).records).toEqual([[{ longValue: 0 }]]);
  });

  it("keeps an open transaction's writes from other callers until it commits (PGlite: they wait for it)", async () => {
    const { transactionId } = await rds.beginTransaction(TARGET);
    await execute(`insert into things (id, name) values ('${ID}', 'a')`, { transactionId });
    let outsideDone = false;
    const outside = execute('select count(*) from things').then((r) => {
      outsideDone = true;
      return r;
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(outsideDone).toBe(false);
    await rds.commitTransaction({ ...TARGET, transactionId });
    expect((await outside).records).toEqual([[{ longValue: 1 }]]);
  });

  it('answers an unknown, an ended and an aborted transaction id with TransactionNotFoundException, naming the cause', async () => {
    const unknown = execute('select 1', { transactionId: 'nope' });
    await expect(unknown).rejects.toBeInstanceOf(TransactionNotFoundException);
    await expect(unknown).rejects.toMatchObject({
      message: 'Transaction nope is not found',
      $metadata: { httpStatusCode: 404 },
    });

    const ended = await rds.beginTransaction(TARGET);
    await rds.commitTransaction({ ...TARGET, transactionId: ended.transactionId });
    await expect(execute('select 1', { transactionId: ended.transactionId })).rejects.toThrow(
      /One previous call resulted in a termination of your transaction/,
    );

    // An error inside a transaction ends it: its writes are gone, and its id is not found any more.
    const aborted = await rds.beginTransaction(TARGET);
    await execute(`insert into things (id, name) values ('${ID}', 'a')`, { transactionId: aborted.transactionId });
    await expect(execute('select 1/0', { transactionId: aborted.transactionId })).rejects.toThrow(
      /division by zero; SQLState: 22012/,
    );
    await expect(rds.rollbackTransaction({ ...TARGET, transactionId: aborted.transactionId })).rejects.toThrow(
      /aborted due to an error from a previous call/,
    );
    expect((await execute('select count(*) from things')).records).toEqual([[{ longValue: 0 }]]);
  });

  it('refuses a second statement while the transaction is still running one', async () => {
    // PGlite runs statements on the event loop, so a slow statement is simulated: the backend holds
    // any statement containing /*gate*/ until the test opens the gate.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const inner = new PGliteBackend(pglite);
    const gated: Backend = {
      kind: 'pglite',
      close: () => inner.close(),
      acquire: async () => {
        const session = await inner.acquire();
        return {
          release: () => session.release(),
          query: async (text, types, values) => {
            if (text.includes('/*gate*/')) {
              await gate;
            }
            return session.query(text, types, values);
          },
        };
      },
    };
    const gatedServer = await startDataApiServer({ database: { backend: gated } });
    const gatedClient = client(gatedServer);
    try {
      const { transactionId } = await gatedClient.beginTransaction(TARGET);
      const slow = gatedClient.executeStatement({ ...TARGET, transactionId, sql: 'select /*gate*/ 1' });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const second = gatedClient.executeStatement({ ...TARGET, transactionId, sql: 'select 2' });
      await expect(second).rejects.toBeInstanceOf(DatabaseErrorException);
      await expect(second).rejects.toThrow('Transaction is still running a query');
      open();
      await slow;
      // Refused, not failed: the transaction goes on.
      await gatedClient.commitTransaction({ ...TARGET, transactionId });
    } finally {
      open();
      gatedClient.destroy();
      await gatedServer.close();
    }
  });

  it('rolls back a transaction left idle past the timeout', async () => {
    const short = await startDataApiServer({ database: { pglite }, transactionTimeoutMs: 100 });
    const shortClient = client(short);
    try {
      const { transactionId } = await shortClient.beginTransaction(TARGET);
      await shortClient.executeStatement({
        ...TARGET,
        transactionId,
        sql: `insert into things (id, name) values ('${ID}', 'a')`,
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await expect(shortClient.executeStatement({ ...TARGET, transactionId, sql: 'select 1' })).rejects.toThrow(
        /Transaction may be expired/,
      );
      expect((await execute('select count(*) from things')).records).toEqual([[{ longValue: 0 }]]);
    } finally {
      shortClient.destroy();
      await short.close();
    }
  });

  it('runs a batch as one unit outside a transaction', async () => {
    const insert = 'insert into things (id, name) values (:id::uuid, :name)';
    const ok = await rds.batchExecuteStatement({
      ...TARGET,
      sql: insert,
      parameterSets: [
        [param('id', { stringValue: ID }), param('name', { stringValue: 'a' })],
        [param('id', { stringValue: '9c1e0f7a-4b5d-4c3e-8f2a-1d6b7e8f9a0b' }), param('name', { stringValue: 'b' })],
      ],
    });
    expect(ok.updateResults).toHaveLength(2);
    await expect(
      rds.batchExecuteStatement({
        ...TARGET,
        sql: insert,
        parameterSets: [
          [param('id', { stringValue: '1d6b7e8f-4b5d-4c3e-8f2a-9c1e0f7a9a0b' }), param('name', { stringValue: 'c' })],
          [param('id', { stringValue: ID }), param('name', { stringValue: 'duplicate' })],
        ],
      }),
    ).rejects.toThrow(/duplicate key value/);
    expect((await execute('select count(*) from things')).records).toEqual([[{ longValue: 2 }]]);
  });
});

describe('requests the service refuses', () => {
  it('answers in the AWS JSON error shape: status, x-amzn-errortype and a message', async () => {
    const response = await fetch(`${server.endpoint}/Execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...TARGET, sql: 'select 1; select 2' }),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('x-amzn-errortype')).toBe('BadRequestException');
    expect(await response.json()).toEqual({
      __type: 'BadRequestException',
      message: "Multi-statements aren't supported.",
    });
  });

  it('refuses another cluster, and the schema parameter', async () => {
    await expect(
      rds.executeStatement({
        ...TARGET,
        resourceArn: 'arn:aws:rds:us-east-1:000000000000:cluster:other',
        sql: 'select 1',
      }),
    ).rejects.toBeInstanceOf(HttpEndpointNotEnabledException);
    await expect(execute('select 1', { schema: 'public' })).rejects.toThrow("The schema parameter isn't supported.");
  });
});

describe('call counting', () => {
  it('counts calls per operation and per request tag', async () => {
    server.calls.reset();
    await withRequestTag('GET /v1/things', async () => {
      const { transactionId } = await rds.beginTransaction(TARGET);
      await execute('select 1', { transactionId });
      await rds.commitTransaction({ ...TARGET, transactionId });
    });
    await execute('select 2');
    expect(server.calls.byOperation('GET /v1/things')).toEqual({
      BeginTransaction: 1,
      ExecuteStatement: 1,
      CommitTransaction: 1,
    });
    expect(server.calls.total('GET /v1/things')).toBe(3);
    expect(server.calls.total()).toBe(4);
  });
});

// Two connections side by side need a real server: with DATABASE_URL set (npm run test:pg sets it
// for the database suites; here set it yourself), the endpoint runs in front of PostgreSQL too.
const postgresUrl = process.env['DATABASE_URL'];
if (postgresUrl) {
  describe('transactions in front of PostgreSQL', () => {
    let pgServer: DataApiServer;
    let pgClient: RDSData;
    const table = `data_api_spec_${process.pid}`;

    beforeAll(async () => {
      pgServer = await startDataApiServer({ database: { url: postgresUrl } });
      pgClient = client(pgServer);
      await pgClient.executeStatement({ ...TARGET, sql: `create table ${table} (id int primary key)` });
    });
    afterAll(async () => {
      await pgClient.executeStatement({ ...TARGET, sql: `drop table if exists ${table}` });
      pgClient.destroy();
      await pgServer.close();
    });

    it('runs its sessions in UTC, so timestamptz comes back in UTC without a zone', async () => {
      const result = await pgClient.executeStatement({
        ...TARGET,
        sql: "select current_setting('TimeZone'), timestamptz '2026-01-02 03:04:05.5+02'",
      });
      expect(result.records).toEqual([[{ stringValue: 'UTC' }, { stringValue: '2026-01-02 01:04:05.5' }]]);
    });

    it('isolates an open transaction: others do not see its writes until it commits, and are not blocked', async () => {
      const count = async (): Promise<unknown> =>
        (await pgClient.executeStatement({ ...TARGET, sql: `select count(*) from ${table}` })).records;
      const { transactionId } = await pgClient.beginTransaction(TARGET);
      await pgClient.executeStatement({ ...TARGET, transactionId, sql: `insert into ${table} values (1)` });
      expect(await count()).toEqual([[{ longValue: 0 }]]);
      await pgClient.commitTransaction({ ...TARGET, transactionId });
      expect(await count()).toEqual([[{ longValue: 1 }]]);
    });
  });
}
