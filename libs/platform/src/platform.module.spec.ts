import {
  ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { Global, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { mockClient } from 'aws-sdk-client-mock';
import { QueueNames } from '@marvain/contracts';
import { KYSELY } from '@marvain/db';
import { testHubConfig } from './testing';
import { HubConfig, loadHubSettings } from './config/hub-config';
import { PlatformModule } from './platform.module';
import { CLOCK, IDS, SystemClock } from './ports';
import { MESSAGE_QUEUE, type MessageQueue } from './queue/message-queue';
import { TableQueue } from './queue/table-queue';
import { AUDIT_SINK, type AuditSink } from './audit-sink/audit-sink';
import { FileAuditSink } from './audit-sink/file-audit-sink';
import { CONNECTION_STORE, type ConnectionStore } from './realtime/connection-store';
import { CONNECTION_PUSH, type ConnectionPush } from './realtime/connection-push';
import { MemoryConnectionStore } from './realtime/memory-connection-store';
import { WebSocketPush } from './realtime/websocket-push';
import { SqsMessageQueue } from './aws/sqs-message-queue';
import { S3AuditSink } from './aws/s3-audit-sink';
import { DynamoConnectionStore } from './aws/dynamo-connection-store';
import { ApiGatewayPush } from './aws/api-gateway-push';

/** Stands in for DbModule: the local queue needs a Kysely instance to be constructed, not used. */
@Global()
@Module({ providers: [{ provide: KYSELY, useValue: {} }], exports: [KYSELY] })
class FakeDbModule {}

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

async function compile(config: HubConfig): Promise<TestingModule> {
  return Test.createTestingModule({ imports: [FakeDbModule, PlatformModule.forRoot(config)] }).compile();
}

describe('PlatformModule.forRoot', () => {
  const modules: TestingModule[] = [];
  afterEach(async () => {
    for (const module of modules.splice(0)) {
      await module.close();
    }
  });

  it('in the local runtime provides the queue table, write-once files, memory connections and ws push', async () => {
    const config = testHubConfig();
    const module = await compile(config);
    modules.push(module);
    expect(module.get(HubConfig)).toBe(config);
    expect(module.get(CLOCK)).toBeInstanceOf(SystemClock);
    expect(module.get<{ derived(n: string): string }>(IDS).derived('x')).toMatch(/^[0-9a-f-]{36}$/);
    expect(module.get(MESSAGE_QUEUE)).toBeInstanceOf(TableQueue);
    const sink = module.get<AuditSink>(AUDIT_SINK);
    expect(sink).toBeInstanceOf(FileAuditSink);
    expect(sink.location).toBe(config.auditDir);
    expect(module.get(CONNECTION_STORE)).toBeInstanceOf(MemoryConnectionStore);
    // The push port is the registry the local ws server registers its sockets with.
    expect(module.get(CONNECTION_PUSH)).toBeInstanceOf(WebSocketPush);
    expect(module.get(CONNECTION_PUSH)).toBe(module.get(WebSocketPush));
  });

  it('in the local runtime, a gone socket is removed from the same connection store the module provides', async () => {
    const module = await compile(testHubConfig());
    modules.push(module);
    const store = module.get<ConnectionStore>(CONNECTION_STORE);
    await store.put({
      connection_id: 'c1',
      principal: { type: 'user', id: 'u1', agents: [] },
      agent_ids: [],
      connected_at: '',
      expires_at: 4_000_000_000,
    });
    expect(await module.get<ConnectionPush>(CONNECTION_PUSH).send('c1', { type: 'pong' })).toBe('gone');
    expect(await store.get('c1')).toBeNull();
  });

  describe('in the AWS runtime', () => {
    const sqs = mockClient(SQSClient);
    const s3 = mockClient(S3Client);
    const dynamo = mockClient(DynamoDBDocumentClient);
    const apigw = mockClient(ApiGatewayManagementApiClient);
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

    async function awsModule(): Promise<TestingModule> {
      const module = await compile(new HubConfig(loadHubSettings(AWS_ENV, { logLevel: 'silent' })));
      modules.push(module);
      return module;
    }

    it('provides SQS, S3, DynamoDB and API Gateway adapters', async () => {
      const module = await awsModule();
      expect(module.get(MESSAGE_QUEUE)).toBeInstanceOf(SqsMessageQueue);
      expect(module.get(AUDIT_SINK)).toBeInstanceOf(S3AuditSink);
      expect(module.get<AuditSink>(AUDIT_SINK).location).toBe('s3://marvain-audit-123456789012/');
      expect(module.get(CONNECTION_STORE)).toBeInstanceOf(DynamoConnectionStore);
      expect(module.get(CONNECTION_PUSH)).toBeInstanceOf(ApiGatewayPush);
      expect(module.get(WebSocketPush)).toBeInstanceOf(WebSocketPush);
    });

    it('wires each adapter to the configured queue URLs, bucket, lock mode, table, region and endpoint', async () => {
      const module = await awsModule();
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

      dynamo.on(GetCommand).resolves({});
      expect(await module.get<ConnectionStore>(CONNECTION_STORE).get('c1')).toBeNull();
      expect(dynamo.commandCalls(GetCommand)[0]!.args[0].input.TableName).toBe('marvain-connections');

      apigw.on(PostToConnectionCommand).rejects(new GoneException({ $metadata: { httpStatusCode: 410 }, message: '' }));
      expect(await module.get<ConnectionPush>(CONNECTION_PUSH).send('c1', { type: 'pong' })).toBe('gone');
      const client = apigw.call(0).thisValue as ApiGatewayManagementApiClient;
      expect(await client.config.region()).toBe('eu-west-1');
      expect(await client.config.endpoint?.()).toMatchObject({
        protocol: 'https:',
        hostname: 'abc123.execute-api.eu-west-1.amazonaws.com',
        path: '/prod',
      });
      // The gone connection is deleted from the DynamoDB table the store uses.
      expect(dynamo.commandCalls(DeleteCommand).map((call) => call.args[0].input)).toStrictEqual([
        { TableName: 'marvain-connections', Key: { connection_id: 'c1' } },
      ]);
    });

    it('refuses to start without the AWS settings', () => {
      const config = testHubConfig({ runtime: 'aws' });
      expect(() => PlatformModule.forRoot(config)).toThrow(/config\.aws/);
    });
  });
});
