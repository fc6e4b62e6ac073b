import 'reflect-metadata';
import { QueueNames, type ActionReference } from '@marvain/contracts';
import { ToolRunnerService } from '@marvain/actions';
import { lambdaConfig } from './bootstrap';
import { sqsHandler } from './sqs';

/** The action queue's consumer: ToolRunnerConsumer's work, one SQS batch at a time. */
export const handler = sqsHandler<ActionReference>(lambdaConfig('tool-runner'), QueueNames.Actions, (app) => {
  const runner = app.get(ToolRunnerService);
  return { handle: (reference) => runner.handle(reference) };
});
