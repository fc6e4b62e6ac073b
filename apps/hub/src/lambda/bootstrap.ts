import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  ConfigError,
  createRootLogger,
  HubConfig,
  loadHubSettings,
  PinoNestLogger,
  type HubSettings,
} from '@marvain/platform';
import { LIVEKIT_SECRET_ARN, readLivekitSecret } from '@marvain/platform-aws';
import { HubModule } from '../app.module';

/**
 * The hub's settings for one Lambda container, read from the environment once at load. A
 * Lambda never runs the polling workers (SQS invokes the consumers) nor the first-run bootstrap.
 * Invalid settings fail the container's start with one JSON log line naming every problem.
 */
export function lambdaConfig(entry: string, env: NodeJS.ProcessEnv = process.env): HubConfig {
  return validated(entry, env, []);
}

/**
 * The hub's settings for a Lambda container that may read secrets (the http function): when
 * LIVEKIT_SECRET_ARN names a secret, its values are read once, at the container's first use, and
 * stand for LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET; then the settings are validated
 * as `lambdaConfig` does, a secret that cannot be read or parsed reported with every other
 * problem. A changed secret takes effect in the next container (a cold start).
 */
export async function lambdaConfigWithSecrets(
  entry: string,
  env: NodeJS.ProcessEnv = process.env,
  readSecret: typeof readLivekitSecret = readLivekitSecret,
): Promise<HubConfig> {
  const secretArn = env[LIVEKIT_SECRET_ARN];
  if (!secretArn) {
    return validated(entry, env, []);
  }
  const secret = await readSecret(secretArn);
  return validated(entry, { ...env, ...secret.env }, secret.problems);
}

function validated(entry: string, env: NodeJS.ProcessEnv, earlierProblems: readonly string[]): HubConfig {
  const problems = [...earlierProblems];
  let settings: HubSettings | undefined;
  try {
    settings = loadHubSettings(env, { workers: false, firstRunBootstrap: false });
  } catch (error) {
    if (!(error instanceof ConfigError)) {
      throw error;
    }
    problems.push(...error.problems);
  }
  if (settings && problems.length === 0) {
    return new HubConfig(settings);
  }
  const line = {
    level: 'fatal',
    time: new Date().toISOString(),
    service: 'marvain-hub',
    entry,
    msg: `invalid configuration for the ${entry} Lambda`,
    problems,
  };
  process.stderr.write(`${JSON.stringify(line)}\n`);
  throw new ConfigError(problems);
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
