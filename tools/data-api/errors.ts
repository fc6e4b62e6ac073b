/**
 * Errors in the shape the RDS Data API answers with (restJson1): an HTTP status, the exception
 * name in the `x-amzn-ErrorType` header (and `__type` in the body), and `{"message": ...}`.
 * The SDK reads the name and throws its class of that name (BadRequestException, ...).
 */
export type DataApiErrorType =
  | 'BadRequestException'
  | 'DatabaseErrorException'
  | 'TransactionNotFoundException'
  | 'UnsupportedResultException'
  | 'ForbiddenException'
  | 'HttpEndpointNotEnabledException'
  | 'InternalServerErrorException'
  | 'StatementTimeoutException'
  | 'SerializationException'
  | 'UnknownOperationException';

/** HTTP status per exception, as the service model declares them. */
const STATUS: Record<DataApiErrorType, number> = {
  BadRequestException: 400,
  DatabaseErrorException: 400,
  TransactionNotFoundException: 404,
  UnsupportedResultException: 400,
  ForbiddenException: 403,
  HttpEndpointNotEnabledException: 400,
  InternalServerErrorException: 500,
  StatementTimeoutException: 400,
  SerializationException: 400,
  UnknownOperationException: 404,
};

export class DataApiError extends Error {
  readonly status: number;

  constructor(
    readonly type: DataApiErrorType,
    message: string,
  ) {
    super(message);
    this.name = type;
    this.status = STATUS[type];
  }
}

/** The messages the service uses for the conditions this endpoint reproduces. */
export const MESSAGES = {
  /** "Database response exceeded size limit" in the Data API troubleshooting guide. */
  responseTooLarge: 'Database returned more than the allowed response size limit',
  /** "Multi-statements aren't supported" in the troubleshooting guide (Serverless v2 and provisioned). */
  multiStatement: "Multi-statements aren't supported.",
  /** "DatabaseErrorException: Transaction is still running a query" in the troubleshooting guide. */
  transactionBusy: 'Transaction is still running a query',
  /** "Schema parameter isn't supported" in the troubleshooting guide (Serverless v2 and provisioned). */
  schemaParameter: "The schema parameter isn't supported.",
  arrayParameter: 'Array parameters are not supported.',
  transactionNotFound: (id: string, cause?: string): string =>
    `Transaction ${id} is not found${cause ? `: ${cause}` : ''}`,
  /** The causes the troubleshooting guide says are appended to "Transaction <id> isn't found". */
  causes: {
    expired: 'Transaction may be expired.',
    ended: 'One previous call resulted in a termination of your transaction.',
    aborted: 'Transaction has been aborted due to an error from a previous call.',
  },
} as const;

/** The PostgreSQL error fields node-postgres and PGlite both expose. */
export interface PgErrorFields {
  message: string;
  severity?: string | undefined;
  code?: string | undefined;
  detail?: string | undefined;
  hint?: string | undefined;
  position?: string | undefined;
  where?: string | undefined;
}

export function isPgError(error: unknown): error is PgErrorFields & Error {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'string' && 'severity' in error;
}

/**
 * A database error as Data API v2 reports it: DatabaseErrorException whose message is the server
 * error with its parts joined by "; " and the SQLSTATE last, for example
 * `ERROR: operator does not exist: uuid = text; Hint: No operator matches ...; Position: 54; SQLState: 42883`.
 */
export function databaseError(error: PgErrorFields): DataApiError {
  const parts = [`${error.severity ?? 'ERROR'}: ${error.message}`];
  if (error.detail) {
    parts.push(`Detail: ${error.detail}`);
  }
  if (error.hint) {
    parts.push(`Hint: ${error.hint}`);
  }
  if (error.position) {
    parts.push(`Position: ${error.position}`);
  }
  if (error.where) {
    parts.push(`Where: ${error.where}`);
  }
  if (error.code) {
    parts.push(`SQLState: ${error.code}`);
  }
  return new DataApiError('DatabaseErrorException', parts.join('; '));
}
