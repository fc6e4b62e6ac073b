import { AsyncLocalStorage } from 'node:async_hooks';
import http from 'node:http';

/**
 * Attributes Data API calls to whatever caused them (a benchmark's REST route, a test step).
 * Work run inside `withRequestTag(tag, fn)` sends the tag in this header on every outgoing HTTP
 * request it makes through an http.Agent (the RDS Data API client's included); the endpoint
 * counts calls per tag.
 */
export const REQUEST_TAG_HEADER = 'x-marvain-request-tag';

const storage = new AsyncLocalStorage<string>();
let installed = false;

/**
 * Node 20 publishes `http.client.request.start` only once the headers are written, so the tag is
 * set where every agent-backed request passes before that: Agent#addRequest, which the
 * ClientRequest constructor calls synchronously in the async context of the code making it.
 */
function install(): void {
  if (installed) {
    return;
  }
  installed = true;
  const prototype = http.Agent.prototype as unknown as {
    addRequest: (request: http.ClientRequest, ...rest: unknown[]) => unknown;
  };
  const addRequest = prototype.addRequest;
  prototype.addRequest = function addRequestWithTag(
    this: http.Agent,
    request: http.ClientRequest,
    ...rest: unknown[]
  ): unknown {
    const tag = storage.getStore();
    if (tag !== undefined && !request.headersSent) {
      request.setHeader(REQUEST_TAG_HEADER, encodeURIComponent(tag));
    }
    return addRequest.call(this, request, ...rest);
  };
}

export function withRequestTag<T>(tag: string, work: () => T): T {
  install();
  return storage.run(tag, work);
}
