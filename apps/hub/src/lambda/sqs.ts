import { Logger, type INestApplicationContext } from '@nestjs/common';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { QueueName } from '@marvain/contracts';
import type { HubConfig } from '@marvain/platform';
import { createHubContext, once } from './bootstrap';
import { processSqsBatch, type QueueHandlers } from './sqs-batch';

/**
 * An SQS entry: the hub's modules (no HTTP server, workers off) created on the first batch and
 * kept for the container's life; each batch handled by processSqsBatch with the feature's handlers.
 */
export function sqsHandler<T>(
  config: HubConfig,
  queue: QueueName,
  handlers: (app: INestApplicationContext) => QueueHandlers<T>,
): (event: SQSEvent) => Promise<SQSBatchResponse> {
  const logger = new Logger(`Lambda:${queue}`);
  const feature = once(async () => handlers(await createHubContext(config)));
  return async (event) => processSqsBatch(event, queue, await feature(), config.queue, logger);
}
