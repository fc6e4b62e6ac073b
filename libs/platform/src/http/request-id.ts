import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { acceptedRequestId, REQUEST_ID_HEADER, requestIdFor, withRequestId } from '../logging/request-context';

/** Fastify's `genReqId`: the caller's `x-request-id` when sane, else a fresh uuid. */
export const requestIdOf = (request: IncomingMessage): string => requestIdFor(request.headers[REQUEST_ID_HEADER]);

/**
 * Echoes each request's id (Fastify's `request.id`, see requestIdOf) in the response header and
 * makes it the current request id for everything that handles the request. Body parsing runs
 * outside the async context entered in onRequest (the body arrives on socket events), so it is
 * entered again once the body is parsed.
 */
export function correlateRequests(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    withRequestId(request.id, done);
  });
  fastify.addHook('preValidation', (request, _reply, done) => {
    withRequestId(request.id, done);
  });
}

/** The parts of an API Gateway (REST, v1 proxy) event that name a request. */
interface GatewayEvent {
  headers: Record<string, string | undefined> | null;
  multiValueHeaders: Record<string, string[] | undefined> | null;
  requestContext: { requestId: string };
}

/**
 * On Lambda the rule is the same (the caller's sane `x-request-id`), with API Gateway's own
 * request id in place of a generated one, so the hub's lines and API Gateway's logs name a
 * request alike. The hub reads the id from the header, so that is where it is put.
 */
export function withGatewayRequestId<E extends GatewayEvent>(event: E): E {
  const isIdHeader = (name: string): boolean => name.toLowerCase() === REQUEST_ID_HEADER;
  const given = Object.entries(event.headers ?? {}).find(([name]) => isIdHeader(name))?.[1];
  const requestId = acceptedRequestId(given) ?? acceptedRequestId(event.requestContext.requestId);
  if (requestId === undefined) {
    return event;
  }
  const others = <V>(headers: Record<string, V> | null): Record<string, V> =>
    Object.fromEntries(Object.entries(headers ?? {}).filter(([name]) => !isIdHeader(name)));
  return {
    ...event,
    headers: { ...others(event.headers), [REQUEST_ID_HEADER]: requestId },
    multiValueHeaders: { ...others(event.multiValueHeaders), [REQUEST_ID_HEADER]: [requestId] },
  };
}
