import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AwsSettings, Clock, HubSettings } from '@marvain/platform';
import type { ConnectionStore } from '@marvain/realtime';
import { ApiGatewayPush } from './api-gateway-push';
import { DynamoConnectionStore } from './dynamo-connection-store';
import { S3AuditSink } from './s3-audit-sink';
import { SqsMessageQueue } from './sqs-message-queue';

/** `make`, called at most once, on the first call of the returned function. */
export function once<T>(make: () => T): () => T {
  let made: T | undefined;
  return () => (made ??= make());
}

/**
 * The AWS adapters, built from settings; each SDK client takes its credentials from the Lambda role
 * and is made on the adapter's first call to AWS, not when the adapter is.
 */
export const awsAdapters = {
  messageQueue: (aws: AwsSettings, queue: HubSettings['queue']): SqsMessageQueue =>
    new SqsMessageQueue(
      once(() => new SQSClient({ region: aws.region })),
      {
        queueUrls: aws.queueUrls,
        deadLetterQueueUrls: aws.deadLetterQueueUrls,
        maxReceives: queue.maxReceives,
      },
    ),
  auditSink: (aws: AwsSettings, clock: Clock): S3AuditSink =>
    new S3AuditSink(
      once(() => new S3Client({ region: aws.region })),
      aws.audit,
      clock,
    ),
  connectionStore: (aws: AwsSettings, clock: Clock): DynamoConnectionStore =>
    new DynamoConnectionStore(
      once(() =>
        DynamoDBDocumentClient.from(new DynamoDBClient({ region: aws.region }), {
          marshallOptions: { removeUndefinedValues: true },
        }),
      ),
      aws.connectionsTable,
      clock,
    ),
  connectionPush: (aws: AwsSettings, store: ConnectionStore): ApiGatewayPush =>
    new ApiGatewayPush(
      once(() => new ApiGatewayManagementApiClient({ region: aws.region, endpoint: aws.websocketEndpoint })),
      store,
    ),
};
