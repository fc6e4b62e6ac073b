import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance } from 'fastify';
import { DomainError, ERROR_HTTP_STATUS, ErrorCode, type ErrorBody } from '@marvain/contracts';

/**
 * What node's HTTP parser refuses before any route runs (Fastify's clientErrorHandler), as
 * code and message. Node itself distinguishes these codes (see socketOnError in node's
 * _http_server.js); every other parse error is a malformed request.
 */
function clientErrorOf(code: string | undefined): { code: ErrorCode; message: string } {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { code: ErrorCode.RequestTimeout, message: 'the request was not received in time' };
    case 'HPE_HEADER_OVERFLOW':
      return { code: ErrorCode.HeadersTooLarge, message: 'the request line and headers are too large' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { code: ErrorCode.PayloadTooLarge, message: 'the chunk extensions are too large' };
    default:
      return { code: ErrorCode.ValidationFailed, message: 'the request is not valid HTTP' };
  }
}

/**
 * Fastify's clientErrorHandler: the hub's error shape for requests node cannot parse (a 20 KB
 * header, a malformed request line, a header timeout), instead of Fastify's own body. The
 * connection is closed afterwards, as node and Fastify do: the parser cannot resume.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) {
    return;
  }
  const { code, message } = clientErrorOf(error.code);
  const status = ERROR_HTTP_STATUS[code];
  const body: ErrorBody = { error: { code, message } };
  const text = JSON.stringify(body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${statusText(status)}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy();
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  431: 'Request Header Fields Too Large',
};
const statusText = (status: number): string => STATUS_TEXT[status] ?? 'Error';

/**
 * The statuses node and Fastify answer on their own, outside any route and error handler, given
 * the hub's error shape. Pass `return503OnClosing: false` to Fastify with this.
 *  - A request arriving while the server closes: Fastify's own 503 body, now `unavailable`.
 *  - An `Expect` header other than 100-continue: node answers 417 with an empty body; the hub
 *    ignores the expectation instead (RFC 9110 lets a server do so) and serves the request.
 */
export function answerServerLevelErrors(fastify: FastifyInstance): void {
  let closing = false;
  fastify.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  fastify.addHook('onRequest', (_request, reply, done) => {
    if (!closing) {
      done();
      return;
    }
    void reply.header('connection', 'close');
    done(new DomainError(ErrorCode.Unavailable, 'the hub is shutting down') as DomainError & FastifyError);
  });
  const server: Server = fastify.server;
  server.on('checkExpectation', (request, response) => server.emit('request', request, response));
}
