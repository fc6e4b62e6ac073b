import 'reflect-metadata';
import { ToolRunnerConsumer } from '@marvain/actions';
import { lambdaConfig } from './bootstrap';
import { sqsHandler } from './sqs';

/** The action queue's consumer, ToolRunnerConsumer, one SQS batch at a time. */
export const handler = sqsHandler(lambdaConfig('tool-runner'), ToolRunnerConsumer);
