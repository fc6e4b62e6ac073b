import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { createRootLogger, createValidationPipe, HubConfig, PinoNestLogger } from '@marvain/platform';
import { HubModule, type HubModuleOptions } from './app.module';
import { HUB_VERSION } from './health.controller';

/** Request bodies above this are refused with 413 before any handler runs. */
export const BODY_LIMIT_BYTES = 256 * 1024;

/**
 * Builds the hub application. Every entry point (the local runtime, tests, the Lambda
 * handlers) calls this one function, so they serve the same routes with the same rules.
 */
export async function createHubApp(config: HubConfig, options: HubModuleOptions = {}): Promise<NestFastifyApplication> {
  const logger = createRootLogger(config.logLevel);
  const adapter = new FastifyAdapter({ bodyLimit: BODY_LIMIT_BYTES, logger: false, trustProxy: config.runtime === 'aws' });
  const app = await NestFactory.create<NestFastifyApplication>(HubModule.forRoot(config, options), adapter, {
    logger: new PinoNestLogger(logger),
    abortOnError: false,
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
