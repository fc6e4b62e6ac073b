import {
  ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DeleteCommand, DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { Test, type TestingModule } from '@nestjs/testing';
import { mockClient } from 'aws-sdk-client-mock';
import { QueueNames } from '@marvain/contracts';
import {
  AUDIT_SINK,
  HubConfig,
  loadHubSettings,
  MESSAGE_QUEUE,
  PlatformModule,
  type AuditSink,
  type MessageQueue,
} from '@marvain/platform';
import { testHubConfig } from '@marvain/platform/testing';
import { CONNECTION_STORE, type ConnectionStore } from '@marvain/realtime';
import { ApiGatewayPush } from './api-gateway-push';
import { awsAdapters } from './aws-adapters';
import { AwsAdaptersModule } from './aws-adapters.module';
import { DynamoConnectionStore } from './dynamo-connection-store';
import { S3AuditSink } from './s3-audit-sink';
import { SqsMessageQueue } from './sqs-message-queue';

const AWS_ENV = {
  MARVAIN_RUNTIME: 'aws',
  MARVAIN_PGLITE_DIR: 'memory',
  AWS_REGION: 'eu-west-1',
  MARVAIN_TRANSCRIPT_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-transcripts',
  MARVAIN_ACTION_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-actions',
  MARVAIN_AUDIT_BUCKET: 'marvain-audit-123456789012',
  MARVAIN_AUDIT_LOCK_MODE: 'COMPLIANCE',
  MARVAIN_CONNECTIONS_TABLE: 'marvain-connections',
  MARVAIN_WS_ENDPOINT: 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod',
};

describe('PlatformModule.forRoot with AwsAdaptersModule', () => {
  const modules: TestingModule[] = [];
  const sqs = mockClient(SQSClient);
  const s3 = mockClient(S3Client);
  const dynamo = mockClient(DynamoDBDocumentClient);
  const apigw = mockClient(ApiGatewayManagementApiClient);
  afterEach(async () => {
    for (const module of modules.splice(0)) {
      await module.close();
    }
  });
  afterAll(() => {
    for (const mock of [sqs, s3, dynamo, apigw]) {
      mock.restore();
    }
  });
  beforeEach(() => {
    for (const mock of [sqs, s3, dynamo, apigw]) {
      mock.reset();
    }
  });

  const config = (): HubConfig => new HubConfig(loadHubSettings(AWS_ENV, { logLevel: 'silent' }));

  async function awsModule(settings: HubConfig = config()): Promise<TestingModule> {
    const module = await Test.createTestingModule({
      imports: [PlatformModule.forRoot(settings, [AwsAdaptersModule.forRoot(settings)])],
    }).compile();
    modules.push(module);
    return module;
  }

  it('provides SQS, S3 and DynamoDB adapters', async () => {
    const module = await awsModule();
    expect(module.get(MESSAGE_QUEUE)).toBeInstanceOf(SqsMessageQueue);
    expect(module.get(AUDIT_SINK)).toBeInstanceOf(S3AuditSink);
    expect(module.get<AuditSink>(AUDIT_SINK).location).toBe('s3://marvain-audit-123456789012/');
    expect(module.get(CONNECTION_STORE)).toBeInstanceOf(DynamoConnectionStore);
  });

  it('wires each adapter to the configured queue URLs, bucket, lock mode, table, region and endpoint', async () => {
    const settings = config();
    const module = await awsModule(settings);
    await module.get<MessageQueue>(MESSAGE_QUEUE).send(QueueNames.Actions, { action_id: 'x' });
    expect(sqs.commandCalls(SendMessageCommand)[0]!.args[0].input.QueueUrl).toBe(
      'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-actions',
    );
    expect(await (sqs.call(0).thisValue as SQSClient).config.region()).toBe('eu-west-1');

    await module.get<AuditSink>(AUDIT_SINK).put('chains/c1/000000000001.json', '{}');
    expect(s3.commandCalls(PutObjectCommand)[0]!.args[0].input).toMatchObject({
      Bucket: 'marvain-audit-123456789012',
      ObjectLockMode: 'COMPLIANCE',
    });

    dynamo.on(QueryCommand).resolves({ Items: [{ item_id: 'connection' }] });
    const store = module.get<ConnectionStore>(CONNECTION_STORE);
    expect(await store.get('c1')).toBeNull();
    expect(dynamo.commandCalls(QueryCommand)[0]!.args[0].input.TableName).toBe('marvain-connections');

    // The push is not provided until something sends; built from the same settings, over the module's store.
    apigw.on(PostToConnectionCommand).rejects(new GoneException({ $metadata: { httpStatusCode: 410 }, message: '' }));
    const push = awsAdapters.connectionPush(settings.aws!, store);
    expect(push).toBeInstanceOf(ApiGatewayPush);
    expect(await push.send('c1', { type: 'pong' })).toBe('gone');
    const client = apigw.call(0).thisValue as ApiGatewayManagementApiClient;
    expect(await client.config.region()).toBe('eu-west-1');
    expect(await client.config.endpoint?.()).toMatchObject({
      protocol: 'https:',
      hostname: 'abc123.execute-api.eu-west-1.amazonaws.com',
      path: '/prod',
    });
    // The gone connection is deleted from the DynamoDB table the store uses.
    expect(dynamo.commandCalls(DeleteCommand).map((call) => call.args[0].input)).toStrictEqual([
      { TableName: 'marvain-connections', Key: { connection_id: 'c1', item_id: 'connection' } },
    ]);
  });

  it('refuses to start without the AWS settings', () => {
    const settings = testHubConfig({ runtime: 'aws' });
    expect(() => AwsAdaptersModule.forRoot(settings)).toThrow(/config\.aws/);
  });
});
