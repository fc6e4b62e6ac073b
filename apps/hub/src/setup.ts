import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { createRootLogger, createValidationPipe, HubConfig, MAX_JSON_DEPTH, nestsDeeperThan, PinoNestLogger } from '@marvain/platform';
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
        done(Object.assign(new Error(`the request body nests deeper than ${MAX_JSON_DEPTH} levels`), { statusCode: 400 }), undefined);
        return;
      }
      done(null, value);
    });
  });
}

/** Request bodies above this are refused with 413 before any handler runs. */
export const BODY_LIMIT_BYTES = 256 * 1024;

/**
 * Builds the hub application. Every entry point (the local runtime, tests, the Lambda
 * handlers) calls this one function, so they serve the same routes with the same rules.
 */
export async function createHubApp(config: HubConfig, options: HubModuleOptions = {}): Promise<NestFastifyApplication> {
  const logger = createRootLogger(config.logLevel);
  const adapter = new FastifyAdapter({ bodyLimit: BODY_LIMIT_BYTES, logger: false, trustProxy: config.runtime === 'aws' });
  refuseDeepJson(adapter);
  const app = await NestFactory.create<NestFastifyApplication>(HubModule.forRoot(config, options), adapter, {
    logger: new PinoNestLogger(logger),
    abortOnError: false,
    // The JSON parser is ours (refuseDeepJson); Nest must not register a second one.
    bodyParser: false,
  });
  app.useGlobalPipes(createValidationPipe());

  const document = SwaggerModule.createDocument(
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
