/**
 * The adapters through the real SDK clients, down to the HTTP request they sign and send: a
 * stand-in request handler records each request and answers with a recorded AWS response. This
 * proves what aws-sdk-client-mock cannot: how the SDK serialises the inputs (Object Lock and
 * checksum headers, the TTL attribute's DynamoDB type, the Management API path) and how it parses
 * AWS's error responses into the errors the adapters recognise.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { QueueNames } from '@marvain/contracts';
import { AuditSinkConflictError, type Clock } from '@marvain/platform';
import { MemoryConnectionStore } from '@marvain/realtime';
import { ApiGatewayPush } from './api-gateway-push';
import { DynamoConnectionStore } from './dynamo-connection-store';
import { S3AuditSink } from './s3-audit-sink';
import { SqsMessageQueue } from './sqs-message-queue';

interface RecordedRequest {
  method: string;
  hostname: string;
  path: string;
  query: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body: string;
}

interface CannedResponse {
  statusCode: number;
  headers?: Record<string, string>;
  body?: string;
}

function bodyText(body: unknown): string {
  if (body === undefined || body === null) {
    return '';
  }
  if (typeof body === 'string') {
    return body;
  }
  if (body instanceof Uint8Array) {
    return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  }
  throw new Error(`unexpected request body ${typeof body}`);
}

/** A request handler that records requests and answers each with the next canned response. */
function fakeAws(...responses: CannedResponse[]) {
  const requests: RecordedRequest[] = [];
  const handler = {
    handle: (request: {
      method: string;
      hostname: string;
      path: string;
      query?: RecordedRequest['query'];
      headers: Record<string, string>;
      body?: unknown;
    }) => {
      requests.push({
        method: request.method,
        hostname: request.hostname,
        path: request.path,
        query: request.query ?? {},
        headers: request.headers,
        body: bodyText(request.body),
      });
      const response = responses.shift();
      if (!response) {
        throw new Error(`unexpected request ${request.method} ${request.path}`);
      }
      return Promise.resolve({
        response: {
          statusCode: response.statusCode,
          headers: response.headers ?? {},
          body: Readable.from([Buffer.from(response.body ?? '', 'utf8')]),
        },
      });
    },
  };
  const config = {
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    requestHandler: handler,
    maxAttempts: 1,
  };
  return { requests, config };
}

const NOW = new Date('2026-11-20T10:00:00.000Z');
const clock: Clock = { now: () => new Date(NOW) };
const md5 = (text: string): string => createHash('md5').update(text, 'utf8').digest('hex');
const xml = { 'content-type': 'application/xml' };
const json10 = { 'content-type': 'application/x-amz-json-1.0' };

describe('S3AuditSink on the wire', () => {
  const BUCKET = 'marvain-audit-123456789012';
  const KEY = 'chains/c1/000000000001.json';
  const ENTRY = '{"seq":1,"text":"héllo"}';
  const sinkWith = (aws: ReturnType<typeof fakeAws>) =>
    new S3AuditSink(
      () => new S3Client(aws.config),
      { bucket: BUCKET, lockMode: 'COMPLIANCE', retentionDays: 3650 },
      clock,
    );

  it('PUTs the bytes with Object Lock, SHA-256 checksum and If-None-Match headers', async () => {
    const aws = fakeAws({ statusCode: 200 });
    await sinkWith(aws).put(KEY, ENTRY);
    const [put] = aws.requests;
    expect(put).toMatchObject({
      method: 'PUT',
      hostname: `${BUCKET}.s3.eu-west-1.amazonaws.com`,
      path: `/${KEY}`,
      body: ENTRY,
    });
    expect(put!.headers).toMatchObject({
      'content-type': 'application/json',
      'if-none-match': '*',
      'x-amz-object-lock-mode': 'COMPLIANCE',
      'x-amz-object-lock-retain-until-date': '2036-11-17T10:00:00Z',
      'x-amz-checksum-sha256': createHash('sha256').update(ENTRY, 'utf8').digest('base64'),
      'content-length': String(Buffer.byteLength(ENTRY, 'utf8')),
    });
    // No second checksum (the SDK's default CRC32) rides along.
    expect(Object.keys(put!.headers).filter((name) => name.startsWith('x-amz-checksum-'))).toEqual([
      'x-amz-checksum-sha256',
    ]);
  });

  const preconditionFailed: CannedResponse = {
    statusCode: 412,
    headers: xml,
    body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition><RequestId>R1</RequestId></Error>',
  };

  it('parses S3’s 412 and reads the key back: the same bytes are a harmless retry', async () => {
    const aws = fakeAws(preconditionFailed, {
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: ENTRY,
    });
    await expect(sinkWith(aws).put(KEY, ENTRY)).resolves.toBeUndefined();
    expect(aws.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`PUT /${KEY}`, `GET /${KEY}`]);
  });

  it('parses S3’s 412 and reads the key back: different bytes are a conflict', async () => {
    const aws = fakeAws(preconditionFailed, {
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: '{"seq":1,"text":"other"}',
    });
    await expect(sinkWith(aws).put(KEY, ENTRY)).rejects.toBeInstanceOf(AuditSinkConflictError);
  });

  it('answers null for S3’s NoSuchKey', async () => {
    const aws = fakeAws({
      statusCode: 404,
      headers: xml,
      body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>chains/c1/000000000009.json</Key><RequestId>R2</RequestId></Error>',
    });
    expect(await sinkWith(aws).get('chains/c1/000000000009.json')).toBeNull();
  });

  it('lists with list-type=2, the folder prefix, the delimiter and the continuation token', async () => {
    const page = (keys: string[], next?: string) =>
      `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>${BUCKET}</Name><Prefix>chains/c1/</Prefix><Delimiter>/</Delimiter><KeyCount>${keys.length}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>${next ? 'true' : 'false'}</IsTruncated>${next ? `<NextContinuationToken>${next}</NextContinuationToken>` : ''}${keys.map((k) => `<Contents><Key>${k}</Key><Size>10</Size></Contents>`).join('')}</ListBucketResult>`;
    const aws = fakeAws(
      { statusCode: 200, headers: xml, body: page(['chains/c1/000000000002.json'], 'tok/2+=') },
      { statusCode: 200, headers: xml, body: page(['chains/c1/000000000001.json']) },
    );
    expect(await sinkWith(aws).list('chains/c1')).toEqual([
      'chains/c1/000000000001.json',
      'chains/c1/000000000002.json',
    ]);
    expect(aws.requests.map((r) => r.query)).toEqual([
      { 'list-type': '2', prefix: 'chains/c1/', delimiter: '/' },
      { 'list-type': '2', prefix: 'chains/c1/', delimiter: '/', 'continuation-token': 'tok/2+=' },
    ]);
  });
});

describe('SqsMessageQueue on the wire', () => {
  const URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-transcripts';
  const queueWith = (aws: ReturnType<typeof fakeAws>) =>
    new SqsMessageQueue(() => new SQSClient(aws.config), {
      queueUrls: { transcripts: URL, actions: `${URL}-actions` },
      maxReceives: 5,
    });

  it('sends SendMessage with the body and the idempotency_key attribute', async () => {
    const body = '{"event_id":"e-1","agent_id":"a-1"}';
    const aws = fakeAws({
      statusCode: 200,
      headers: json10,
      body: JSON.stringify({ MessageId: 'm-1', MD5OfMessageBody: md5(body) }),
    });
    await queueWith(aws).send(QueueNames.Transcripts, { event_id: 'e-1', agent_id: 'a-1' }, { dedupKey: 'event:e-1' });
    const [request] = aws.requests;
    expect(request!.headers['x-amz-target']).toBe('AmazonSQS.SendMessage');
    expect(JSON.parse(request!.body)).toStrictEqual({
      QueueUrl: URL,
      MessageBody: body,
      DelaySeconds: 0,
      MessageAttributes: { idempotency_key: { DataType: 'String', StringValue: 'event:e-1' } },
    });
  });

  it('reads ReceiveMessage’s response into messages with their receive counts', async () => {
    const body = '{"event_id":"e-2"}';
    const aws = fakeAws({
      statusCode: 200,
      headers: json10,
      body: JSON.stringify({
        Messages: [
          {
            MessageId: 'm-2',
            ReceiptHandle: 'rh-2',
            Body: body,
            MD5OfBody: md5(body),
            Attributes: { ApproximateReceiveCount: '4' },
          },
        ],
      }),
    });
    expect(
      await queueWith(aws).receive(QueueNames.Transcripts, { max: 10, visibilityTimeoutSeconds: 30 }),
    ).toStrictEqual([{ id: 'm-2', receipt: 'rh-2', body: { event_id: 'e-2' }, receiveCount: 4 }]);
    expect(aws.requests[0]!.headers['x-amz-target']).toBe('AmazonSQS.ReceiveMessage');
    expect(JSON.parse(aws.requests[0]!.body)).toStrictEqual({
      QueueUrl: URL,
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 30,
      MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      MessageAttributeNames: ['All'],
    });
  });
});

describe('DynamoConnectionStore on the wire', () => {
  const storeWith = (aws: ReturnType<typeof fakeAws>) =>
    new DynamoConnectionStore(
      () =>
        DynamoDBDocumentClient.from(new DynamoDBClient(aws.config), {
          marshallOptions: { removeUndefinedValues: true },
        }),
      'marvain-connections',
      clock,
    );
  const expiresAt = NOW.getTime() / 1000 + 60;

  it('writes connection_id and item_id as S, the TTL attribute expires_at as N and agent_ids as a list', async () => {
    const aws = fakeAws(
      { statusCode: 200, headers: json10, body: JSON.stringify({ Items: [], Count: 0, ScannedCount: 0 }) },
      { statusCode: 200, headers: json10, body: '{}' },
    );
    await storeWith(aws).put({
      connection_id: 'Gk1abcd=',
      principal: { type: 'device', id: 'd1', agents: [{ agent_id: 'a1', scopes: ['events:write'] }] },
      agent_ids: ['a1'],
      connected_at: NOW.toISOString(),
      expires_at: expiresAt,
    });
    expect(aws.requests.map((request) => request.headers['x-amz-target'])).toEqual([
      'DynamoDB_20120810.Query',
      'DynamoDB_20120810.PutItem',
    ]);
    expect(JSON.parse(aws.requests[1]!.body)).toStrictEqual({
      TableName: 'marvain-connections',
      Item: {
        connection_id: { S: 'Gk1abcd=' },
        principal: {
          M: {
            type: { S: 'device' },
            id: { S: 'd1' },
            agents: { L: [{ M: { agent_id: { S: 'a1' }, scopes: { L: [{ S: 'events:write' }] } } }] },
          },
        },
        agent_ids: { L: [{ S: 'a1' }] },
        connected_at: { S: '2026-11-20T10:00:00.000Z' },
        expires_at: { N: String(expiresAt) },
        item_id: { S: 'connection' },
        principal_key: { S: 'device#d1' },
      },
    });
  });

  it('queries the subscribers index with typed values and reads items back into subscribers', async () => {
    const aws = fakeAws({
      statusCode: 200,
      headers: json10,
      body: JSON.stringify({
        Items: [
          {
            connection_id: { S: 'c1' },
            item_id: { S: 'subscription#a1' },
            agent_id: { S: 'a1' },
            space_id: { NULL: true },
            topics: { L: [{ S: 'events.new' }] },
            principal: { M: { type: { S: 'user' }, id: { S: 'u1' }, agents: { L: [] } } },
            live_after: { N: '12' },
            expires_at: { N: String(expiresAt) },
          },
        ],
        Count: 1,
        ScannedCount: 1,
      }),
    });
    expect(await storeWith(aws).listSubscribers('a1')).toStrictEqual([
      {
        connection_id: 'c1',
        principal: { type: 'user', id: 'u1', agents: [] },
        subscription: { agent_id: 'a1', space_id: null, topics: ['events.new'] },
        live_after: 12,
        expires_at: expiresAt,
      },
    ]);
    expect(aws.requests[0]!.headers['x-amz-target']).toBe('DynamoDB_20120810.Query');
    expect(JSON.parse(aws.requests[0]!.body)).toMatchObject({
      IndexName: 'agent_subscribers',
      KeyConditionExpression: 'agent_id = :agent_id',
      FilterExpression: 'expires_at > :now',
      ExpressionAttributeValues: { ':agent_id': { S: 'a1' }, ':now': { N: String(NOW.getTime() / 1000) } },
    });
  });

  it('answers false to touch when DynamoDB reports ConditionalCheckFailedException', async () => {
    const aws = fakeAws({
      statusCode: 400,
      headers: json10,
      body: JSON.stringify({
        __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException',
        message: 'The conditional request failed',
      }),
    });
    expect(await storeWith(aws).touch('gone', expiresAt)).toBe(false);
  });
});

describe('ApiGatewayPush on the wire', () => {
  const ENDPOINT = 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod';

  async function pushWith(
    aws: ReturnType<typeof fakeAws>,
  ): Promise<{ push: ApiGatewayPush; store: MemoryConnectionStore }> {
    const store = new MemoryConnectionStore(clock);
    await store.put({
      connection_id: 'Gk1abcd=',
      principal: { type: 'user', id: 'u1', agents: [] },
      agent_ids: [],
      connected_at: NOW.toISOString(),
      expires_at: NOW.getTime() / 1000 + 60,
    });
    return {
      push: new ApiGatewayPush(() => new ApiGatewayManagementApiClient({ ...aws.config, endpoint: ENDPOINT }), store),
      store,
    };
  }

  it('POSTs the JSON to @connections/<id> under the stage path of the endpoint', async () => {
    const aws = fakeAws({ statusCode: 200 });
    const { push } = await pushWith(aws);
    expect(await push.send('Gk1abcd=', { type: 'pong' })).toBe('sent');
    expect(aws.requests[0]).toMatchObject({
      method: 'POST',
      hostname: 'abc123.execute-api.eu-west-1.amazonaws.com',
      path: '/prod/@connections/Gk1abcd%3D',
      body: '{"type":"pong"}',
    });
    expect(aws.requests[0]!.headers['authorization']).toContain('/eu-west-1/execute-api/aws4_request');
  });

  it('reads a 410 GoneException as gone and deletes the connection', async () => {
    const aws = fakeAws({
      statusCode: 410,
      headers: { 'content-type': 'application/json', 'x-amzn-errortype': 'GoneException' },
      body: '{"message":null}',
    });
    const { push, store } = await pushWith(aws);
    expect(await push.send('Gk1abcd=', { type: 'pong' })).toBe('gone');
    expect(await store.get('Gk1abcd=')).toBeNull();
  });
});
