import type { DynamicModule, NestApplicationOptions } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { Principal } from '@marvain/contracts';
import {
  answerClientError,
  answerServerLevelErrors,
  correlateRequests,
  createRootLogger,
  createValidationPipe,
  HubConfig,
  keepWebhookBodies,
  MAX_JSON_DEPTH,
  nestsDeeperThan,
  PinoNestLogger,
  RefuseUndeclaredInput,
  refuseUnsafeRequestText,
  requestIdOf,
  sendError,
  toErrorResponse,
  type LogDestination,
} from '@marvain/platform';
import { LIVEKIT_WEBHOOK_PATH } from '@marvain/livekit';
import { HubModule, type HubModuleOptions } from './app.module';
import { HUB_VERSION } from './health.controller';

/**
 * Fastify's own JSON parsing (prototype-poisoning checks included), plus a nesting limit: the
 * validation pipe copies bodies recursively, and a small body nested tens of thousands deep
 * would otherwise exhaust the stack there (a 500) instead of being refused (a 400).
 */
function refuseDeepJson(adapter: FastifyAdapter): void {
  const fastify = adapter.getInstance();
  const parseJson = fastify.getDefaultJsonParser('error', 'ignore');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    void parseJson(request, typeof body === 'string' ? body : body.toString('utf8'), (error, value: unknown) => {
      if (error) {
        done(error, undefined);
        return;
      }
      if (nestsDeeperThan(value, MAX_JSON_DEPTH)) {
        done(
          Object.assign(new Error(`the request body nests deeper than ${MAX_JSON_DEPTH} levels`), { statusCode: 400 }),
          undefined,
        );
        return;
      }
      done(null, value);
    });
  });
}

/**
 * One line per request, every request (no sampling): a personal hub serves few enough that each
 * line is worth its ~150 bytes, and a sampled log cannot answer "did my device's call arrive?".
 * The route pattern is logged, never the URL, so ids and query strings stay out of the log.
 * Health probes go to debug: a load balancer would otherwise fill the log with them.
 */
function logRequests(fastify: FastifyInstance, logger: Logger): void {
  // At warn and above no request is logged: no hook at all, so the hot path pays nothing for it.
  if (!logger.isLevelEnabled('info')) {
    return;
  }
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? '(no route)';
    const principal = (request as { principal?: Principal }).principal?.type ?? 'anonymous';
    const fields = {
      context: 'HTTP',
      request_id: request.id,
      method: request.method,
      route,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
      principal,
    };
    if (route === '/v1/health') {
      logger.debug(fields, 'request');
    } else {
      logger.info(fields, 'request');
    }
    done();
  });
}

/** Request bodies above this are refused with 413 before any handler runs. */
export const BODY_LIMIT_BYTES = 256 * 1024;

/** Makes the Nest application from the hub's root module, on the adapter and options createHubApp prepared. */
export type HubApplicationFactory = (
  root: DynamicModule,
  adapter: FastifyAdapter,
  options: NestApplicationOptions,
) => Promise<NestFastifyApplication>;

const fromNestFactory: HubApplicationFactory = (root, adapter, options) =>
  NestFactory.create<NestFastifyApplication>(root, adapter, options);

export interface HubAppOptions extends HubModuleOptions {
  /**
   * Replaces NestFactory.create, e.g. to compile the module through @nestjs/testing with a provider
   * overridden (tools/bench/hub-no-auth.ts); everything else about the app stays as built here.
   */
  createApplication?: HubApplicationFactory;
  /** Where log lines go (default stdout), e.g. a buffer a spec reads. */
  logDestination?: LogDestination;
}

/**
 * Builds the hub application. Every entry point (the local runtime, tests, the Lambda
 * handlers) calls this one function, so they serve the same routes with the same rules.
 */
export async function createHubApp(config: HubConfig, options: HubAppOptions = {}): Promise<NestFastifyApplication> {
  const { createApplication = fromNestFactory, logDestination, ...moduleOptions } = options;
  const logger = createRootLogger(config, logDestination);
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    logger: false,
    trustProxy: config.runtime === 'aws',
    // Every request is known by an id: the caller's x-request-id when sane, else a fresh uuid.
    genReqId: requestIdOf,
    // Every status the server answers has the hub's error shape, also those answered before any
    // route runs: unparsable requests (431, 408, 400) and requests during shutdown (503).
    clientErrorHandler: answerClientError,
    return503OnClosing: false,
    // Fastify's router refuses some paths before Nest sees them (a malformed %-escape, a path
    // segment over its 100-character limit). Those get the hub's error shape too, and a message
    // of our own: Fastify's quotes the whole path back.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const { status, body } = toErrorResponse(error);
      body.error.message =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is too long' : 'the request path is not valid';
      sendError(reply, request, status, body);
    },
  });
  // First: every later hook, handler and error answer runs knowing the request's id.
  correlateRequests(adapter.getInstance());
  refuseDeepJson(adapter);
  logRequests(adapter.getInstance(), logger);
  // NUL and lone surrogates anywhere in the path, query or body: one 400 before any guard or pipe.
  refuseUnsafeRequestText(adapter.getInstance());
  answerServerLevelErrors(adapter.getInstance());
  // The hub takes JSON only. Fastify's built-in text/plain parser would hand the validation pipe a
  // string, so a wrong content type got a route-dependent 400; now every non-JSON body is a 415.
  adapter.getInstance().removeContentTypeParser('text/plain');
  // Signed webhooks keep their exact bytes, on their routes only.
  keepWebhookBodies(adapter.getInstance(), [LIVEKIT_WEBHOOK_PATH]);
  const app = await createApplication(HubModule.forRoot(config, moduleOptions), adapter, {
    logger: new PinoNestLogger(logger),
    abortOnError: false,
    // The JSON parser is ours (refuseDeepJson); Nest must not register a second one.
    bodyParser: false,
  });
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalInterceptors(new RefuseUndeclaredInput());

  // The OpenAPI document is built on the first request for it (/openapi.json or the /docs page),
  // not here: scanning every route's metadata is a large part of a cold start that serves an API
  // request, and most containers never serve the docs.
  const document = (): OpenAPIObject =>
    SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('Marvain hub')
        .setDescription('The personal agent hub: agents, spaces, devices, events, memories, actions and audit.')
        .setVersion(HUB_VERSION)
        .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'A device token (mvd_…) or a user access token' })
        .build(),
    );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'openapi.json', raw: ['json'] });
  await app.init();
  return app;
}
