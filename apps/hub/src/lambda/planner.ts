import 'reflect-metadata';
import { PlannerConsumer } from '@marvain/planner';
import { lambdaConfig } from './bootstrap';
import { sqsHandler } from './sqs';

/** The transcript queue's consumer, PlannerConsumer, one SQS batch at a time. */
export const handler = sqsHandler(lambdaConfig('planner'), PlannerConsumer);
