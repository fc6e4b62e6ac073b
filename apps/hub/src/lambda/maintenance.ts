import 'reflect-metadata';
import type { ScheduledEvent } from 'aws-lambda';
import { LoggerFactory } from '@marvain/platform';
import { MaintenanceService, type MaintenanceResult } from '@marvain/presence';
import { createHubContext, lambdaConfig, once } from './bootstrap';

const config = lambdaConfig('maintenance');

/** The hub's modules (no HTTP server, workers off), created on the first run and kept for the container's life. */
const ready = once(async () => {
  const app = await createHubContext(config);
  return { maintenance: app.get(MaintenanceService), logger: app.get(LoggerFactory).forContext('Lambda:maintenance') };
});

/**
 * The AWS twin of the local maintenance worker, invoked by an EventBridge schedule: stale presence
 * goes offline (each transition fanned out to its subscribers before this returns) and stream
 * entries past the retention are deleted. A failure throws, so the next scheduled run retries.
 */
export async function handler(_event: ScheduledEvent): Promise<MaintenanceResult> {
  const { maintenance, logger } = await ready();
  const result = await maintenance.run();
  logger.log({ msg: 'maintenance ran', ...result });
  return result;
}
