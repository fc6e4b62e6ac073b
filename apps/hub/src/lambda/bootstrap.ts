import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigError, createRootLogger, HubConfig, loadHubSettings, PinoNestLogger } from '@marvain/platform';
import { HubModule } from '../app.module';

/**
 * The hub's settings for one Lambda container, read from the environment once at load. A
 * Lambda never runs the polling workers (SQS invokes the consumers) nor the first-run bootstrap.
 * Invalid settings fail the container's start with one JSON log line naming every problem.
 */
export function lambdaConfig(entry: string, env: NodeJS.ProcessEnv = process.env): HubConfig {
  try {
    return new HubConfig(loadHubSettings(env, { workers: false, firstRunBootstrap: false }));
  } catch (error) {
    if (error instanceof ConfigError) {
      const line = {
        level: 'fatal',
        time: new Date().toISOString(),
        service: 'marvain-hub',
        entry,
        msg: `invalid configuration for the ${entry} Lambda`,
        problems: error.problems,
      };
      process.stderr.write(`${JSON.stringify(line)}\n`);
    }
    throw error;
  }
}

/**
 * Creates something once per container, on first use, and shares it with every later
 * invocation. A failed creation is forgotten, so the next invocation tries again instead of
 * the container answering with the same error until it is recycled.
 */
export function once<T>(create: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | null = null;
  return () =>
    (pending ??= create().catch((error: unknown) => {
      pending = null;
      throw error;
    }));
}

/** The hub's modules without an HTTP server: what the WebSocket and SQS entries run on. */
export function createHubContext(config: HubConfig): Promise<INestApplicationContext> {
  return NestFactory.createApplicationContext(HubModule.forRoot(config), {
    logger: new PinoNestLogger(createRootLogger(config)),
    abortOnError: false,
  });
}
