import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import { PGliteBackend, PostgresBackend, type Backend, type RawResult, type Session } from './backends';
import { DataApiError, MESSAGES, databaseError, isPgError } from './errors';
import { REQUEST_TAG_HEADER } from './request-tag';
import {
  Catalog,
  ValueConverter,
  toExecuteResponse,
  type ExecuteResponse,
  type Field,
  type ResultSetOptions,
} from './results';
import { scanSql } from './sql-text';

export { REQUEST_TAG_HEADER, withRequestTag } from './request-tag';
export { DataApiError } from './errors';
export type { Backend } from './backends';

/**
 * A local RDS Data API endpoint: answers the REST-JSON operations `@aws-sdk/client-rds-data`
 * sends (POST /Execute, /BatchExecute, /BeginTransaction, /CommitTransaction,
 * /RollbackTransaction) from a real PostgreSQL or PGlite, with the Data API's typing rules,
 * result fields, limits and error shapes. Point an RDSDataClient at `endpoint`. See README.md.
 */
export interface DataApiServerOptions {
  /** The database: an open PGlite, a PostgreSQL URL, or a ready Backend. */
  database: { pglite: PGlite; closeOnStop?: boolean } | { url: string; poolSize?: number } | { backend: Backend };
  /** When set, requests naming another cluster / secret / database are refused. */
  resourceArn?: string;
  secretArn?: string;
  databaseName?: string;
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** The service's limit on one call's result (1 MiB). */
  maxResponseBytes?: number;
  /** The limit on formattedRecords (formatRecordsAs: JSON), 10 MB. */
  maxFormattedResponseBytes?: number;
  /** A transaction with no call for this long is rolled back (the service: 3 minutes). */
  transactionTimeoutMs?: number;
  /** Keep every call's operation and SQL per request tag (CallCounter#log), e.g. for a benchmark. */
  logCalls?: boolean;
  /** Called with every error answered (debugging: MARVAIN_DATA_API_LOG=errors in the test helper). */
  onError?: (operation: Operation, body: Record<string, unknown>, error: DataApiError) => void;
}

export type Operation =
  'ExecuteStatement' | 'BatchExecuteStatement' | 'BeginTransaction' | 'CommitTransaction' | 'RollbackTransaction';

const ROUTES: Record<string, Operation> = {
  '/Execute': 'ExecuteStatement',
  '/BatchExecute': 'BatchExecuteStatement',
  '/BeginTransaction': 'BeginTransaction',
  '/CommitTransaction': 'CommitTransaction',
  '/RollbackTransaction': 'RollbackTransaction',
};

/** Calls received, per request tag (the REQUEST_TAG_HEADER value; '' when absent) and operation. */
export class CallCounter {
  private readonly counts = new Map<string, Map<Operation, number>>();
  private readonly logs = new Map<string, string[]>();

  /** @param keepLog also keep each call (operation and SQL) per tag, for `log(tag)`. */
  constructor(private readonly keepLog = false) {}

  record(tag: string, operation: Operation, sql?: string): void {
    const byOperation = this.counts.get(tag) ?? new Map<Operation, number>();
    byOperation.set(operation, (byOperation.get(operation) ?? 0) + 1);
    this.counts.set(tag, byOperation);
    if (this.keepLog) {
      const log = this.logs.get(tag) ?? [];
      log.push(sql === undefined ? operation : `${operation}: ${sql.replace(/\s+/g, ' ').trim()}`);
      this.logs.set(tag, log);
    }
  }

  /** The calls recorded for a tag, in order (only with keepLog). */
  log(tag: string): readonly string[] {
    return this.logs.get(tag) ?? [];
  }

  /** Calls for one tag, or for all tags. */
  total(tag?: string): number {
    const tags = tag === undefined ? [...this.counts.keys()] : [tag];
    return tags.reduce((sum, t) => sum + [...(this.counts.get(t)?.values() ?? [])].reduce((a, b) => a + b, 0), 0);
  }

  byOperation(tag: string): Partial<Record<Operation, number>> {
    return Object.fromEntries(this.counts.get(tag) ?? []);
  }

  snapshot(): Record<string, Partial<Record<Operation, number>>> {
    return Object.fromEntries([...this.counts.keys()].map((tag) => [tag, this.byOperation(tag)]));
  }

  reset(): void {
    this.counts.clear();
    this.logs.clear();
  }
}

export interface DataApiServer {
  /** http://127.0.0.1:<port>, for RDSDataClient's `endpoint`. */
  readonly endpoint: string;
  readonly calls: CallCounter;
  /** Transactions currently open. */
  openTransactions(): number;
  close(): Promise<void>;
}

interface SqlParameter {
  name?: string;
  typeHint?: string;
  value?: Record<string, unknown>;
}

interface OpenTransaction {
  readonly id: string;
  readonly session: Session;
  busy: boolean;
  timer?: NodeJS.Timeout;
}

type EndCause = keyof typeof MESSAGES.causes;

// PostgreSQL type oids for the parameter types the Data API sends.
const OID = {
  unknown: 0,
  bool: 16,
  bytea: 17,
  int8: 20,
  text: 25,
  json: 114,
  float8: 701,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  numeric: 1700,
  uuid: 2950,
};

const HINT_TYPES: Record<string, number> = {
  UUID: OID.uuid,
  JSON: OID.json,
  TIMESTAMP: OID.timestamp,
  DATE: OID.date,
  TIME: OID.time,
  DECIMAL: OID.numeric,
};

/** The formats the API reference gives for hinted strings. */
const HINT_FORMATS: Record<string, { pattern: RegExp; name: string }> = {
  TIMESTAMP: { pattern: /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?$/, name: 'TimeStamp' },
  DATE: { pattern: /^\d{4}-\d{2}-\d{2}$/, name: 'Date' },
  TIME: { pattern: /^\d{2}:\d{2}:\d{2}(\.\d{1,9})?$/, name: 'Time' },
};

class DataApiEndpoint {
  readonly calls: CallCounter;
  readonly catalog = new Catalog();
  private readonly transactions = new Map<string, OpenTransaction>();
  private readonly ended = new Map<string, EndCause>();
  private readonly maxResponseBytes: number;
  private readonly maxFormattedResponseBytes: number;
  private readonly transactionTimeoutMs: number;

  constructor(
    private readonly backend: Backend,
    private readonly options: DataApiServerOptions,
  ) {
    this.calls = new CallCounter(options.logCalls ?? false);
    this.maxResponseBytes = options.maxResponseBytes ?? 1024 * 1024;
    this.maxFormattedResponseBytes = options.maxFormattedResponseBytes ?? 10 * 1000 * 1000;
    this.transactionTimeoutMs = options.transactionTimeoutMs ?? 3 * 60 * 1000;
  }

  openTransactions(): number {
    return this.transactions.size;
  }

  async handle(operation: Operation, body: Record<string, unknown>): Promise<unknown> {
    switch (operation) {
      case 'ExecuteStatement':
        return this.execute(body);
      case 'BatchExecuteStatement':
        return this.batchExecute(body);
      case 'BeginTransaction':
        return this.begin(body);
      case 'CommitTransaction':
        return this.end(body, 'COMMIT');
      case 'RollbackTransaction':
        return this.end(body, 'ROLLBACK');
    }
  }

  // -------------------------------------------------------------------------------------------
  // Operations

  private async execute(body: Record<string, unknown>): Promise<ExecuteResponse> {
    this.checkTarget(body, true);
    const { text, names } = this.sqlOf(body);
    const { types, values } = bindParameters(names, body['parameters']);
    const formatRecordsAs = typeof body['formatRecordsAs'] === 'string' ? body['formatRecordsAs'] : 'NONE';
    const options = {
      includeResultMetadata: body['includeResultMetadata'] === true && formatRecordsAs !== 'JSON',
      formatRecordsAs,
      resultSetOptions: (body['resultSetOptions'] ?? {}) as ResultSetOptions,
    };
    return this.onSession(optionalString(body, 'transactionId'), async (session) => {
      const result = await run(session, text, types, values);
      if (result.fields) {
        await this.catalog.prepare(session, result.fields);
      }
      const response = toExecuteResponse(result, this.catalog, options);
      this.checkSize(response);
      return response;
    });
  }

  private async batchExecute(
    body: Record<string, unknown>,
  ): Promise<{ updateResults: Array<{ generatedFields: Field[] }> }> {
    this.checkTarget(body, true);
    const { text, names } = this.sqlOf(body);
    const rawSets = body['parameterSets'];
    const sets = Array.isArray(rawSets) && rawSets.length > 0 ? (rawSets as unknown[]) : [[]];
    const bound = sets.map((set) => bindParameters(names, set));
    const work = async (session: Session): Promise<{ updateResults: Array<{ generatedFields: Field[] }> }> => {
      const updateResults: Array<{ generatedFields: Field[] }> = [];
      for (const { types, values } of bound) {
        const result = await run(session, text, types, values);
        if (result.fields) {
          await this.catalog.prepare(session, result.fields);
        }
        const converter = new ValueConverter(this.catalog);
        const first = result.fields && result.rows[0] ? result.rows[0] : undefined;
        const generatedFields =
          first && result.fields ? result.fields.map((f, i) => converter.field(first[i] ?? null, f.dataTypeID)) : [];
        updateResults.push({ generatedFields });
      }
      return { updateResults };
    };
    const transactionId = optionalString(body, 'transactionId');
    if (transactionId) {
      return this.onSession(transactionId, work);
    }
    // Outside a transaction the batch is one unit: every parameter set or none.
    return this.onSession(undefined, async (session) => {
      await run(session, 'BEGIN');
      try {
        const result = await work(session);
        await run(session, 'COMMIT');
        return result;
      } catch (error) {
        await session.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    });
  }

  private async begin(body: Record<string, unknown>): Promise<{ transactionId: string }> {
    this.checkTarget(body, true);
    const session = await this.backend.acquire();
    try {
      await run(session, 'BEGIN');
    } catch (error) {
      session.release();
      throw error;
    }
    const id = randomBytes(72).toString('base64');
    const transaction: OpenTransaction = { id, session, busy: false };
    this.transactions.set(id, transaction);
    this.touch(transaction);
    return { transactionId: id };
  }

  private async end(
    body: Record<string, unknown>,
    command: 'COMMIT' | 'ROLLBACK',
  ): Promise<{ transactionStatus: string }> {
    this.checkTarget(body, false);
    const id = optionalString(body, 'transactionId');
    if (!id) {
      throw new DataApiError('BadRequestException', 'transactionId is required');
    }
    const transaction = this.claim(id);
    try {
      await run(transaction.session, command);
    } catch (error) {
      await transaction.session.query('ROLLBACK').catch(() => undefined);
      this.finish(transaction, 'ended');
      throw error;
    }
    this.finish(transaction, 'ended');
    return { transactionStatus: command === 'COMMIT' ? 'Transaction Committed' : 'Rollback Complete' };
  }

  // -------------------------------------------------------------------------------------------
  // Sessions and transactions

  /** Runs `work` on the transaction's connection, or on a connection of its own (autocommit). */
  private async onSession<T>(transactionId: string | undefined, work: (session: Session) => Promise<T>): Promise<T> {
    if (!transactionId) {
      const session = await this.backend.acquire();
      try {
        return await work(session);
      } finally {
        session.release();
      }
    }
    const transaction = this.claim(transactionId);
    try {
      const result = await work(transaction.session);
      transaction.busy = false;
      this.touch(transaction);
      return result;
    } catch (error) {
      // An error ends the transaction: the service rolls it back, and later calls with its id
      // fail with "Transaction has been aborted due to an error from a previous call".
      await transaction.session.query('ROLLBACK').catch(() => undefined);
      this.finish(transaction, 'aborted');
      throw error;
    }
  }

  /** The open transaction, marked busy; refused when unknown, ended, or already running a query. */
  private claim(id: string): OpenTransaction {
    const transaction = this.transactions.get(id);
    if (!transaction) {
      const cause = this.ended.get(id);
      throw new DataApiError(
        'TransactionNotFoundException',
        MESSAGES.transactionNotFound(id, cause ? MESSAGES.causes[cause] : undefined),
      );
    }
    if (transaction.busy) {
      throw new DataApiError('DatabaseErrorException', MESSAGES.transactionBusy);
    }
    transaction.busy = true;
    if (transaction.timer) {
      clearTimeout(transaction.timer);
    }
    return transaction;
  }

  private touch(transaction: OpenTransaction): void {
    if (transaction.timer) {
      clearTimeout(transaction.timer);
    }
    transaction.timer = setTimeout(() => {
      if (transaction.busy || !this.transactions.has(transaction.id)) {
        return;
      }
      transaction.busy = true;
      void transaction.session
        .query('ROLLBACK')
        .catch(() => undefined)
        .finally(() => this.finish(transaction, 'expired'));
    }, this.transactionTimeoutMs);
    transaction.timer.unref();
  }

  private finish(transaction: OpenTransaction, cause: EndCause): void {
    if (transaction.timer) {
      clearTimeout(transaction.timer);
    }
    if (!this.transactions.delete(transaction.id)) {
      return;
    }
    transaction.session.release();
    this.ended.set(transaction.id, cause);
    if (this.ended.size > 10_000) {
      this.ended.delete(this.ended.keys().next().value as string);
    }
  }

  async rollbackAll(): Promise<void> {
    for (const transaction of [...this.transactions.values()]) {
      await transaction.session.query('ROLLBACK').catch(() => undefined);
      this.finish(transaction, 'ended');
    }
  }

  // -------------------------------------------------------------------------------------------
  // Request checks

  private checkTarget(body: Record<string, unknown>, withDatabase: boolean): void {
    const resourceArn = optionalString(body, 'resourceArn');
    const secretArn = optionalString(body, 'secretArn');
    if (!resourceArn) {
      throw new DataApiError('BadRequestException', 'resourceArn is required');
    }
    if (!secretArn) {
      throw new DataApiError('BadRequestException', 'secretArn is required');
    }
    if (this.options.resourceArn && resourceArn !== this.options.resourceArn) {
      throw new DataApiError(
        'HttpEndpointNotEnabledException',
        `HttpEndpoint is not enabled for resource ${resourceArn}`,
      );
    }
    if (this.options.secretArn && secretArn !== this.options.secretArn) {
      throw new DataApiError(
        'BadRequestException',
        `Error fetching secret ${secretArn}: the secret does not belong to this cluster`,
      );
    }
    if ('schema' in body && body['schema'] !== undefined) {
      throw new DataApiError('BadRequestException', MESSAGES.schemaParameter);
    }
    const database = withDatabase ? optionalString(body, 'database') : undefined;
    if (database && this.options.databaseName && database !== this.options.databaseName) {
      throw new DataApiError('DatabaseErrorException', `FATAL: database "${database}" does not exist; SQLState: 3D000`);
    }
  }

  private sqlOf(body: Record<string, unknown>): ReturnType<typeof scanSql> {
    const sql = optionalString(body, 'sql');
    if (!sql) {
      throw new DataApiError('BadRequestException', 'sql is required');
    }
    const scanned = scanSql(sql);
    if (scanned.statements > 1) {
      throw new DataApiError('BadRequestException', MESSAGES.multiStatement);
    }
    return scanned;
  }

  private checkSize(response: ExecuteResponse): void {
    if (response.formattedRecords !== undefined) {
      if (Buffer.byteLength(response.formattedRecords) > this.maxFormattedResponseBytes) {
        throw new DataApiError('BadRequestException', MESSAGES.responseTooLarge);
      }
      return;
    }
    if (response.records && Buffer.byteLength(JSON.stringify(response.records)) > this.maxResponseBytes) {
      throw new DataApiError('BadRequestException', MESSAGES.responseTooLarge);
    }
  }
}

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Runs one statement; a PostgreSQL error becomes the DatabaseErrorException the service sends. */
async function run(
  session: Session,
  text: string,
  types?: readonly number[],
  values?: ReadonlyArray<string | null>,
): Promise<RawResult> {
  try {
    return await session.query(text, types, values);
  } catch (error) {
    if (isPgError(error)) {
      throw databaseError(error);
    }
    throw error;
  }
}

/**
 * The Data API's typing rules: a stringValue is text unless its typeHint names another type;
 * longValue is bigint, doubleValue double precision, booleanValue boolean, blobValue bytea,
 * isNull an untyped NULL. Returns the parameter types and text values in `$n` order.
 */
export function bindParameters(
  names: readonly string[],
  rawParameters: unknown,
): { types: number[]; values: Array<string | null> } {
  const parameters = Array.isArray(rawParameters) ? (rawParameters as SqlParameter[]) : [];
  const byName = new Map(parameters.map((p) => [p.name ?? '', p]));
  const types: number[] = [];
  const values: Array<string | null> = [];
  names.forEach((name, index) => {
    const parameter = byName.get(name);
    if (!parameter) {
      throw new DataApiError(
        'DatabaseErrorException',
        `ERROR: No value specified for parameter ${index + 1}.; SQLState: 22023`,
      );
    }
    const [type, value] = bindValue(parameter);
    types.push(type);
    values.push(value);
  });
  return { types, values };
}

function bindValue(parameter: SqlParameter): [number, string | null] {
  const value = parameter.value ?? {};
  if ('arrayValue' in value) {
    throw new DataApiError('BadRequestException', MESSAGES.arrayParameter);
  }
  if (typeof value['stringValue'] === 'string') {
    const text = value['stringValue'];
    const hint = parameter.typeHint;
    if (hint === undefined) {
      return [OID.text, text];
    }
    const type = HINT_TYPES[hint];
    if (type === undefined) {
      throw new DataApiError('BadRequestException', `Invalid typeHint ${hint}`);
    }
    const format = HINT_FORMATS[hint];
    if (format && !format.pattern.test(text)) {
      throw new DataApiError(
        'BadRequestException',
        `Parse Error for ${format.name}: input contains invalid characters`,
      );
    }
    return [type, text];
  }
  if (value['isNull'] === true) {
    return [OID.unknown, null];
  }
  if (typeof value['booleanValue'] === 'boolean') {
    return [OID.bool, value['booleanValue'] ? 't' : 'f'];
  }
  if (typeof value['longValue'] === 'number') {
    return [OID.int8, String(value['longValue'])];
  }
  if (typeof value['doubleValue'] === 'number') {
    return [OID.float8, String(value['doubleValue'])];
  }
  if (typeof value['blobValue'] === 'string') {
    return [OID.bytea, `\\x${Buffer.from(value['blobValue'], 'base64').toString('hex')}`];
  }
  return [OID.unknown, null];
}

// ---------------------------------------------------------------------------------------------
// HTTP

function sendJson(
  response: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    ...headers,
  });
  response.end(text);
}

function sendError(response: http.ServerResponse, error: DataApiError): void {
  sendJson(response, error.status, { __type: error.type, message: error.message }, { 'x-amzn-errortype': error.type });
}

function readBody(request: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

export async function startDataApiServer(options: DataApiServerOptions): Promise<DataApiServer> {
  const source = options.database;
  const given = source as Partial<Record<'pglite' | 'url' | 'backend', unknown>> | undefined;
  if (!given?.pglite && !given?.url && !given?.backend) {
    throw new Error('startDataApiServer: `database` must be { pglite }, { url } or { backend } (got none of them)');
  }
  const backend: Backend =
    'backend' in source
      ? source.backend
      : 'pglite' in source
        ? new PGliteBackend(source.pglite, { closePglite: source.closeOnStop ?? false })
        : new PostgresBackend(source.url, source.poolSize);
  const endpoint = new DataApiEndpoint(backend, options);

  const server = http.createServer((request, response) => {
    void (async () => {
      const path = (request.url ?? '/').split('?')[0] ?? '/';
      if (path === '/_calls') {
        if (request.method === 'DELETE') {
          endpoint.calls.reset();
        }
        sendJson(response, 200, endpoint.calls.snapshot());
        return;
      }
      const operation = ROUTES[path];
      if (request.method !== 'POST' || !operation) {
        sendError(
          response,
          new DataApiError('UnknownOperationException', `No operation at ${request.method ?? ''} ${path}`),
        );
        return;
      }
      const rawTag = request.headers[REQUEST_TAG_HEADER];
      const tag = typeof rawTag === 'string' ? decodeURIComponent(rawTag) : '';
      let body: Record<string, unknown>;
      try {
        const text = await readBody(request);
        const parsed: unknown = text === '' ? {} : JSON.parse(text);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          throw new Error('not an object');
        }
        body = parsed as Record<string, unknown>;
      } catch {
        endpoint.calls.record(tag, operation);
        sendError(response, new DataApiError('SerializationException', 'The request body is not a JSON object'));
        return;
      }
      endpoint.calls.record(tag, operation, typeof body['sql'] === 'string' ? body['sql'] : undefined);
      try {
        sendJson(response, 200, await endpoint.handle(operation, body));
      } catch (error) {
        const answered =
          error instanceof DataApiError
            ? error
            : new DataApiError('InternalServerErrorException', error instanceof Error ? error.message : String(error));
        options.onError?.(operation, body, answered);
        sendError(response, answered);
      }
    })();
  });
  server.keepAliveTimeout = 60_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://${host}:${address.port}`,
    calls: endpoint.calls,
    openTransactions: () => endpoint.openTransactions(),
    close: () => {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await endpoint.rollbackAll();
        if (!('backend' in source)) {
          await backend.close();
        }
      })();
      return closing;
    },
  };
}
