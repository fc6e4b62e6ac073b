import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** The media type LiveKit (and webhooks like it) post: JSON whose exact bytes are signed. */
export const WEBHOOK_CONTENT_TYPE = 'application/webhook+json';

interface WebhookRequest {
  /** The exact text of an application/webhook+json body, kept for the route's signature check. */
  webhookBody?: string;
}

/**
 * Takes `application/webhook+json` bodies on `paths` only, keeping their exact text (a signature
 * covers those bytes, which parsing and re-serialising JSON would not preserve) where
 * `@WebhookBody()` finds it; the parsed body stays empty, so no validation pipe sees it. The same
 * content type on any other route is refused 415, like every other type but JSON.
 */
export function keepWebhookBodies(fastify: FastifyInstance, paths: readonly string[]): void {
  fastify.addContentTypeParser(WEBHOOK_CONTENT_TYPE, { parseAs: 'string' }, (request, body, done) => {
    if (!paths.includes(request.routeOptions.url ?? '')) {
      done(
        Object.assign(new Error(`${WEBHOOK_CONTENT_TYPE} is accepted only by webhook routes; send application/json`), {
          statusCode: 415,
        }),
        undefined,
      );
      return;
    }
    (request as FastifyRequest & WebhookRequest).webhookBody = typeof body === 'string' ? body : body.toString('utf8');
    done(null, undefined);
  });
}

/** The exact text of the request's application/webhook+json body; undefined when it sent none. */
export const WebhookBody = createParamDecorator(
  (_data: unknown, context: ExecutionContext): string | undefined =>
    context.switchToHttp().getRequest<WebhookRequest>().webhookBody,
);
