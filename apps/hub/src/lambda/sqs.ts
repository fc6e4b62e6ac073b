import type { Type } from '@nestjs/common';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { LoggerFactory, type HubConfig, type QueueConsumer } from '@marvain/platform';
import { createHubContext, once } from './bootstrap';
import { processSqsBatch } from './sqs-batch';

/**
 * An SQS entry: the hub's modules (no HTTP server, workers off) created on the first batch and
 * kept for the container's life; each batch handled by processSqsBatch with the feature's queue
 * consumer, the one the local runtime polls with.
 */
export function sqsHandler<T>(
  config: HubConfig,
  consumerType: Type<QueueConsumer<T>>,
): (event: SQSEvent) => Promise<SQSBatchResponse> {
  const ready = once(async () => {
    const app = await createHubContext(config);
    const consumer = app.get(consumerType);
    return { consumer, logger: app.get(LoggerFactory).forContext(`Lambda:${consumer.queueName}`) };
  });
  return async (event) => {
    const { consumer, logger } = await ready();
    return processSqsBatch(event, consumer.queueName, consumer, config.queue, logger);
  };
}
