import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, ERROR_HTTP_STATUS, ErrorCode, type ErrorBody } from '@marvain/contracts';
import { LoggerFactory } from '../logging/hub-logger';
import { REQUEST_ID_HEADER, withRequestId } from '../logging/request-context';

const STATUS_CODES: Record<number, ErrorCode> = {
  400: ErrorCode.ValidationFailed,
  401: ErrorCode.Unauthenticated,
  403: ErrorCode.Forbidden,
  404: ErrorCode.NotFound,
  405: ErrorCode.MethodNotAllowed,
  408: ErrorCode.RequestTimeout,
  409: ErrorCode.Conflict,
  413: ErrorCode.PayloadTooLarge,
  415: ErrorCode.UnsupportedMediaType,
  429: ErrorCode.RateLimited,
  431: ErrorCode.HeadersTooLarge,
  503: ErrorCode.Unavailable,
};

const MAX_FRAMEWORK_MESSAGE_CHARS = 200;

const clip = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/** Turns anything thrown into `{"error": {"code", "message", "details"?}}` with the code's status. */
export function toErrorResponse(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof DomainError) {
    const body: ErrorBody = { error: { code: error.code, message: error.message } };
    if (error.details !== undefined) {
      body.error.details = error.details;
    }
    return { status: ERROR_HTTP_STATUS[error.code], body };
  }
  // Framework errors (unknown route, body too large, malformed JSON) carry a status of their own.
  const status =
    error instanceof HttpException
      ? error.getStatus()
      : (error as { statusCode?: unknown } | null | undefined)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = STATUS_CODES[status] ?? ErrorCode.ValidationFailed;
    // Cut: a framework message can quote the request ("Cannot GET /<a 15 KB path>").
    const message = error instanceof Error ? clip(error.message, MAX_FRAMEWORK_MESSAGE_CHARS) : 'request rejected';
    return { status: ERROR_HTTP_STATUS[code], body: { error: { code, message } } };
  }
  return { status: 500, body: { error: { code: ErrorCode.Internal, message: 'internal error' } } };
}

/** An error body as sent for a request: the error, and the id the request is known by. */
export type RequestErrorBody = ErrorBody & { request_id?: string };

/**
 * Sends an error body for `request`, with its `request_id` (also in the `x-request-id` header:
 * an error answered before the hooks that set it, such as a malformed path, still carries it).
 */
export function sendError(
  reply: FastifyReply,
  request: FastifyRequest | undefined,
  status: number,
  body: ErrorBody,
): void {
  const sent: RequestErrorBody = request ? { ...body, request_id: request.id } : body;
  if (request) {
    void reply.header(REQUEST_ID_HEADER, request.id);
  }
  void reply.status(status).header('content-type', 'application/json; charset=utf-8').send(sent);
}

@Catch()
export class DomainErrorFilter implements ExceptionFilter {
  // Registered as the app filter, outside any feature module, so it takes the default factory.
  private readonly logger = new LoggerFactory().forContext('Errors');

  catch(error: unknown, host: ArgumentsHost): void {
    const { status, body } = toErrorResponse(error);
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest | undefined>();
    if (status >= 500) {
      const report = (): void =>
        this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
      // The error may surface outside the request's async context (e.g. while its body is parsed).
      if (request) {
        withRequestId(request.id, report);
      } else {
        report();
      }
    }
    sendError(http.getResponse<FastifyReply>(), request, status, body);
  }
}
