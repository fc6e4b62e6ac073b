/** Stable, machine-readable error codes. Clients switch on these; never rename one. */
export enum ErrorCode {
  ValidationFailed = 'validation_failed',
  Unauthenticated = 'unauthenticated',
  Forbidden = 'forbidden',
  NotFound = 'not_found',
  Conflict = 'conflict',
  ActionInvalidTransition = 'action_invalid_transition',
  PayloadTooLarge = 'payload_too_large',
  UnsupportedMediaType = 'unsupported_media_type',
  RateLimited = 'rate_limited',
  Unavailable = 'unavailable',
  Internal = 'internal',
  /** A request that carried a deadline (the CLI's x-marvain-deadline) reached the hub after it. */
  DeadlineExceeded = 'deadline_exceeded',
  MethodNotAllowed = 'method_not_allowed',
  RequestTimeout = 'request_timeout',
  HeadersTooLarge = 'headers_too_large',
  /** A stream resume point older than the retention window; details name the oldest seq available. */
  StreamExpired = 'stream_expired',
  /** LiveKit is not configured on this hub (LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET). */
  LivekitNotConfigured = 'livekit_not_configured',
  /** A webhook whose signature (or body hash) did not verify. */
  WebhookSignatureInvalid = 'webhook_signature_invalid',
}

/** The HTTP status each code maps to; the one global filter reads this table. */
export const ERROR_HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  [ErrorCode.ValidationFailed]: 400,
  [ErrorCode.Unauthenticated]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.ActionInvalidTransition]: 409,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.UnsupportedMediaType]: 415,
  [ErrorCode.RateLimited]: 429,
  [ErrorCode.Unavailable]: 503,
  [ErrorCode.Internal]: 500,
  [ErrorCode.DeadlineExceeded]: 408,
  [ErrorCode.MethodNotAllowed]: 405,
  [ErrorCode.RequestTimeout]: 408,
  [ErrorCode.HeadersTooLarge]: 431,
  [ErrorCode.StreamExpired]: 410,
  [ErrorCode.LivekitNotConfigured]: 503,
  [ErrorCode.WebhookSignatureInvalid]: 401,
};

/** The body of every error response: `{"error": {"code", "message", "details"?}}`. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

/** A failure the caller can act on. Services throw these; they never throw HTTP exceptions. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'DomainError';
  }

  static notFound(what: string, id?: string): DomainError {
    return new DomainError(ErrorCode.NotFound, id ? `${what} ${id} was not found` : `${what} was not found`);
  }
}
