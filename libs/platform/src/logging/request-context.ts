import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** The response header (and the incoming one we accept) that carries a request's correlation id. */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * A caller's id is accepted when it is an RFC 9110 token of at most 128 characters: long enough
 * for a uuid, a ULID or a trace id, and nothing a log line or a header could be confused by.
 */
const SANE_REQUEST_ID = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$/;

/** The caller's `x-request-id` when it is sane, otherwise undefined. */
export function acceptedRequestId(header: unknown): string | undefined {
  return typeof header === 'string' && SANE_REQUEST_ID.test(header) ? header : undefined;
}

/** The id a request is known by: the caller's when sane, else a fresh uuid. */
export function requestIdFor(header: unknown): string {
  return acceptedRequestId(header) ?? randomUUID();
}

interface RequestContext {
  requestId: string;
}

/**
 * The request being handled, for code that has no request object: a service deep in a call
 * chain logs, and its line carries the request id (see the root logger's mixin).
 */
const requestContext = new AsyncLocalStorage<RequestContext>();

/** Runs `fn`, and everything it starts, as part of the request `requestId`. */
export function withRequestId<T>(requestId: string, fn: () => T): T {
  return requestContext.run({ requestId }, fn);
}

/** The id of the request whose handling is running now, if any. */
export function currentRequestId(): string | undefined {
  return requestContext.getStore()?.requestId;
}
