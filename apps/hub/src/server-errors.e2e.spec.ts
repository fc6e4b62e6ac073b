import { connect } from 'node:net';
import { ERROR_HTTP_STATUS, ErrorCode } from '@marvain/contracts';
import { BODY_LIMIT_BYTES } from './setup';
import { openHubTestServer, type HubTestServer } from './testing/hub-test-server';

/*
 * Every status the HTTP server can answer has the one error shape `{"error": {"code",
 * "message"}}` as application/json, also those answered before any route runs: requests node's
 * parser refuses (Fastify's clientErrorHandler), an unknown route, a body too large or of the
 * wrong type, and requests arriving while the hub shuts down. Sent over a raw socket, byte for
 * byte, since a well-behaved client cannot send most of these.
 */

interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Writes `chunks` (with `pauseMs` between them) and reads until the server closes the connection. */
function exchange(port: number, chunks: string[], pauseMs = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => (received += data));
    socket.on('error', (error: NodeJS.ErrnoException) =>
      error.code === 'ECONNRESET' || error.code === 'EPIPE' ? undefined : reject(error),
    );
    socket.on('close', () => resolve(received));
    socket.on('connect', () => {
      void (async () => {
        for (const [i, chunk] of chunks.entries()) {
          if (i > 0 && pauseMs > 0) {
            await new Promise((r) => setTimeout(r, pauseMs));
          }
          if (!socket.destroyed) {
            socket.write(chunk, 'latin1');
          }
        }
      })();
    });
  });
}

/** The first response in `raw` (Content-Length or chunked), or null when there is none. */
function parseReply(raw: string): RawReply | null {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0) {
    return null;
  }
  const [statusLine = '', ...headerLines] = raw.slice(0, headEnd).split('\r\n');
  const headers = Object.fromEntries(
    headerLines.map((line) => [
      line.slice(0, line.indexOf(':')).toLowerCase(),
      line.slice(line.indexOf(':') + 1).trim(),
    ]),
  );
  let body = raw.slice(headEnd + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    let decoded = '';
    for (let rest = body; ;) {
      const lineEnd = rest.indexOf('\r\n');
      const size = parseInt(rest.slice(0, lineEnd), 16);
      if (!size) {
        break;
      }
      decoded += rest.slice(lineEnd + 2, lineEnd + 2 + size);
      rest = rest.slice(lineEnd + 2 + size + 2);
    }
    body = decoded;
  } else if (headers['content-length'] !== undefined) {
    body = body.slice(0, Number(headers['content-length']));
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}

/** Why `reply` is not the hub's error shape with `code` (and its status), or null when it is. */
function whyNotError(reply: RawReply | null, code: ErrorCode): string | null {
  if (!reply) {
    return 'no response';
  }
  if (reply.status !== ERROR_HTTP_STATUS[code]) {
    return `status ${reply.status}`;
  }
  if (!(reply.headers['content-type'] ?? '').startsWith('application/json')) {
    return `content-type ${reply.headers['content-type'] ?? 'none'}`;
  }
  let body: unknown;
  try {
    body = JSON.parse(reply.body);
  } catch {
    return `body is not JSON: ${reply.body.slice(0, 120)}`;
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } }).error;
  // request_id: wherever Fastify has a request, i.e. not for what node's parser refuses.
  const requestId = (body as { request_id?: unknown }).request_id;
  if (
    !error ||
    !Object.keys(body as object).every((k) => ['error', 'request_id'].includes(k)) ||
    (requestId !== undefined && typeof requestId !== 'string') ||
    !Object.keys(error).every((k) => ['code', 'message', 'details'].includes(k))
  ) {
    return `not {"error": {"code", "message"}}: ${reply.body.slice(0, 120)}`;
  }
  if (error.code !== code) {
    return `code ${String(error.code)}`;
  }
  if (typeof error.message !== 'string' || error.message.length === 0 || error.message.length > 300) {
    return 'no short message';
  }
  return null;
}

const request = (lines: string[], body = ''): string => `${lines.join('\r\n')}\r\n\r\n${body}`;

describe('every status the server answers has the error shape', () => {
  let hub: HubTestServer;
  let port: number;

  beforeAll(async () => {
    hub = await openHubTestServer({
      beforeListen: (app) => {
        // Short timeouts, so the 408 of a client that never finishes its headers comes quickly.
        const server = app.getHttpServer();
        server.headersTimeout = 500;
        server.requestTimeout = 1000;
        // Read by node when the server starts listening (an option of createServer, not typed as a property).
        Object.assign(server, { connectionsCheckingInterval: 100 });
      },
    });
    port = Number(new URL(hub.base).port);
  });

  afterAll(() => hub.close());

  const cases: Array<{ what: string; chunks: string[]; pauseMs?: number; code: ErrorCode }> = [
    {
      what: 'a 20 KB header (431)',
      chunks: [request(['GET /v1/health HTTP/1.1', 'Host: hub', `X-Big: ${'a'.repeat(20_000)}`])],
      code: ErrorCode.HeadersTooLarge,
    },
    {
      what: 'a 20 KB request path (431: node has no separate URI limit)',
      chunks: [request([`GET /${'a'.repeat(20_000)} HTTP/1.1`, 'Host: hub'])],
      code: ErrorCode.HeadersTooLarge,
    },
    { what: 'a request line that is not HTTP', chunks: ['GARBAGE\r\n\r\n'], code: ErrorCode.ValidationFailed },
    {
      what: 'an unknown HTTP version',
      chunks: [request(['GET /v1/health HTTP/9.9', 'Host: hub'])],
      code: ErrorCode.ValidationFailed,
    },
    {
      what: 'a control character in a header value',
      chunks: [request(['GET /v1/health HTTP/1.1', 'Host: hub', 'X-Bad: a\u0001b'])],
      code: ErrorCode.ValidationFailed,
    },
    {
      what: 'a header without a colon',
      chunks: [request(['GET /v1/health HTTP/1.1', 'Host: hub', 'NoColonHere'])],
      code: ErrorCode.ValidationFailed,
    },
    {
      what: 'both Transfer-Encoding and Content-Length (request smuggling)',
      chunks: [
        request(
          ['POST /v1/events HTTP/1.1', 'Host: hub', 'Transfer-Encoding: chunked', 'Content-Length: 3'],
          '0\r\n\r\n',
        ),
      ],
      code: ErrorCode.ValidationFailed,
    },
    {
      what: 'a malformed chunk size',
      chunks: [
        request(
          ['POST /v1/events HTTP/1.1', 'Host: hub', 'Content-Type: application/json', 'Transfer-Encoding: chunked'],
          'zz\r\n{}\r\n0\r\n\r\n',
        ),
      ],
      code: ErrorCode.ValidationFailed,
    },
    {
      what: 'headers never finished (408)',
      chunks: ['GET /v1/health HTTP/1.1\r\nHost: hub\r\n'],
      code: ErrorCode.RequestTimeout,
    },
    {
      what: 'an unknown route (404)',
      chunks: [request(['GET /no/such/route HTTP/1.1', 'Host: hub', 'Connection: close'])],
      code: ErrorCode.NotFound,
    },
    {
      what: 'an unknown route with a long path (404, message cut)',
      chunks: [request([`GET /${'x'.repeat(10_000)} HTTP/1.1`, 'Host: hub', 'Connection: close'])],
      code: ErrorCode.NotFound,
    },
    {
      what: 'a known path with the wrong method (404)',
      chunks: [request(['PUT /v1/health HTTP/1.1', 'Host: hub', 'Connection: close'])],
      code: ErrorCode.NotFound,
    },
    {
      what: 'a declared body over the limit (413)',
      chunks: [
        request([
          'POST /v1/events HTTP/1.1',
          'Host: hub',
          'Content-Type: application/json',
          `Content-Length: ${BODY_LIMIT_BYTES + 1}`,
          'Connection: close',
        ]),
      ],
      code: ErrorCode.PayloadTooLarge,
    },
    {
      what: 'a chunked body over the limit (413)',
      chunks: [
        request(
          [
            'POST /v1/events HTTP/1.1',
            'Host: hub',
            'Content-Type: application/json',
            'Transfer-Encoding: chunked',
            'Connection: close',
          ],
          `${(BODY_LIMIT_BYTES + 10).toString(16)}\r\n${'a'.repeat(BODY_LIMIT_BYTES + 10)}\r\n0\r\n\r\n`,
        ),
      ],
      code: ErrorCode.PayloadTooLarge,
    },
    {
      what: 'a body that is not JSON (415)',
      chunks: [
        request(
          [
            'POST /v1/events HTTP/1.1',
            'Host: hub',
            'Content-Type: text/plain',
            'Content-Length: 2',
            'Connection: close',
          ],
          'hi',
        ),
      ],
      code: ErrorCode.UnsupportedMediaType,
    },
    {
      what: 'a Content-Length that is not a number',
      chunks: [
        request(
          [
            'POST /v1/events HTTP/1.1',
            'Host: hub',
            'Content-Type: application/json',
            'Content-Length: abc',
            'Connection: close',
          ],
          '{}',
        ),
      ],
      code: ErrorCode.ValidationFailed,
    },
  ];

  it.each(cases.map((c) => [c.what, c]))('answers %s', async (_what, c) => {
    const reply = parseReply(await exchange(port, c.chunks, c.pauseMs));
    expect(whyNotError(reply, c.code)).toBeNull();
  });

  it('serves a request whose Expect header it does not know, instead of an empty 417', async () => {
    const reply = parseReply(
      await exchange(port, [
        request(['GET /v1/health HTTP/1.1', 'Host: hub', 'Expect: something-else', 'Connection: close']),
      ]),
    );
    expect(reply?.status).toBe(200);
    expect(JSON.parse(reply?.body ?? 'null')).toMatchObject({ status: 'ok' });
  });

  it('never quotes a long request path back in full', async () => {
    const reply = parseReply(
      await exchange(port, [request([`GET /${'x'.repeat(10_000)} HTTP/1.1`, 'Host: hub', 'Connection: close'])]),
    );
    expect(reply?.body.length).toBeLessThan(400);
  });
});

describe('a request arriving while the hub shuts down', () => {
  it('is answered 503 unavailable in the error shape', async () => {
    const hub = await openHubTestServer();
    const port = Number(new URL(hub.base).port);
    const server = hub.app.getHttpServer();
    // One request in flight (its body not yet complete) keeps the connection busy while the hub
    // closes; the second request, pipelined on the same connection, arrives after closing began.
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => (received += data));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
    socket.write(
      request(['POST /v1/events HTTP/1.1', 'Host: hub', 'Content-Type: application/json', 'Content-Length: 2'], '{'),
    );
    await new Promise((r) => setTimeout(r, 200));
    const closing = hub.close();
    for (let i = 0; i < 100 && server.listening; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    socket.write(`}${request(['GET /v1/health HTTP/1.1', 'Host: hub'])}`);
    await closed;
    await closing;
    const second = parseReply(received.slice(received.indexOf('HTTP/1.1', 1)));
    expect(whyNotError(second, ErrorCode.Unavailable)).toBeNull();
  });
});
