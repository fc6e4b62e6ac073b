import 'reflect-metadata';
import { QueueNames, type EventReference } from '@marvain/contracts';
import { PlannerService } from '@marvain/planner';
import { lambdaConfig } from './bootstrap';
import { sqsHandler } from './sqs';

/** The transcript queue's consumer: PlannerConsumer's work, one SQS batch at a time. */
export const handler = sqsHandler<EventReference>(lambdaConfig('planner'), QueueNames.Transcripts, (app) => {
  const planner = app.get(PlannerService);
  return {
    handle: (reference) => planner.handle(reference),
    // An event that could not be planned still leaves a trace in its agent's audit chain.
    deadLettered: (body, error) => planner.recordDeadLetter(body, error),
  };
});
