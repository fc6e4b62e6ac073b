/**
 * The AWS runtime's fan-out end to end below the SDK: a real StoredFanout over the DynamoDB
 * connection store and ApiGatewayPush, with only the two SDK clients mocked.
 */
import {
  ApiGatewayManagementApiClient,
  ForbiddenException,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { Principal, Scope, StreamEntry, StreamTopic } from '@marvain/contracts';
import type { Clock, HubLogger } from '@marvain/platform';
import { StoredFanout } from '@marvain/realtime';
import { ApiGatewayPush } from './api-gateway-push';
import { DynamoConnectionStore } from './dynamo-connection-store';

const TABLE = 'marvain-connections';
const NOW = new Date('2026-11-20T10:00:00.000Z');
const EXPIRES_AT = NOW.getTime() / 1000 + 3600;
const clock: Clock = { now: () => new Date(NOW) };

const documents = mockClient(DynamoDBDocumentClient);
const apigw = mockClient(ApiGatewayManagementApiClient);

class RecordingLogger implements HubLogger {
  readonly warnings: string[] = [];
  log(): void {}
  debug(): void {}
  error(): void {}
  warn(message: unknown): void {
    this.warnings.push(String(message));
  }
}

function principal(id: string, scopes: Scope[], agentId = 'a1'): Principal {
  return { type: 'device', id, agents: [{ agent_id: agentId, scopes }] };
}

/** A subscription item as the agent_subscribers index returns it. */
function subscriber(
  connectionId: string,
  who: Principal,
  topics: StreamTopic[],
  spaceId: string | null = null,
  agentId = 'a1',
  liveAfter = 0,
): Record<string, unknown> {
  return {
    connection_id: connectionId,
    item_id: `subscription#${agentId}`,
    agent_id: agentId,
    space_id: spaceId,
    topics,
    principal: who,
    live_after: liveAfter,
    expires_at: EXPIRES_AT,
  };
}

function entry(seq: number, topic: StreamTopic, spaceId: string | null, agentId = 'a1'): StreamEntry {
  return {
    seq,
    agent_id: agentId,
    topic,
    space_id: spaceId,
    data: { id: `thing-${seq}` },
    at: '2026-11-20T09:59:59.000Z',
  };
}

function fanout(logger: HubLogger = new RecordingLogger()): StoredFanout {
  const store = new DynamoConnectionStore(
    () => DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
    TABLE,
    clock,
  );
  const client = new ApiGatewayManagementApiClient({
    region: 'eu-west-1',
    endpoint: 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod',
  });
  return new StoredFanout(store, new ApiGatewayPush(() => client, store), logger);
}

/** PostToConnection calls per connection id, each as the parsed Data, in the order sent. */
function posted(): Record<string, unknown[]> {
  const byConnection: Record<string, unknown[]> = {};
  for (const call of apigw.commandCalls(PostToConnectionCommand)) {
    const { ConnectionId, Data } = call.args[0].input;
    (byConnection[ConnectionId!] ??= []).push(JSON.parse(Data as string));
  }
  return byConnection;
}

function indexQueries(): unknown[] {
  return documents
    .commandCalls(QueryCommand)
    .map((call) => call.args[0].input)
    .filter((input) => input.IndexName === 'agent_subscribers');
}

describe('StoredFanout over DynamoDB and the Management API', () => {
  beforeEach(() => {
    documents.reset();
    apigw.reset();
    apigw.on(PostToConnectionCommand).resolves({});
  });

  it('posts each entry as a stream message to exactly the subscribers that hear it, in seq order', async () => {
    documents.on(QueryCommand, { IndexName: 'agent_subscribers' }).resolves({
      Items: [
        subscriber('all', principal('d1', ['events:read']), ['events.new']),
        subscriber('space-s2', principal('d2', ['events:read']), ['events.new'], 's2'),
        subscriber('actions-only', principal('d3', ['events:read', 'actions:read']), ['actions.updated']),
        // Subscribed to events.new, but its principal cannot read events on a1.
        subscriber('no-scope', principal('d4', ['memories:read']), ['events.new']),
      ],
    });
    const entries = [entry(7, 'events.new', 's1'), entry(8, 'events.new', 's2')];
    await fanout().publish(entries);

    expect(indexQueries()).toStrictEqual([
      {
        TableName: TABLE,
        IndexName: 'agent_subscribers',
        KeyConditionExpression: 'agent_id = :agent_id',
        FilterExpression: 'expires_at > :now',
        ExpressionAttributeValues: { ':agent_id': 'a1', ':now': NOW.getTime() / 1000 },
      },
    ]);
    expect(posted()).toStrictEqual({
      all: [
        { type: 'stream', ...entries[0] },
        { type: 'stream', ...entries[1] },
      ],
      'space-s2': [{ type: 'stream', ...entries[1] }],
    });
    // Data is the stream message exactly as the local runtime sends it.
    expect(apigw.commandCalls(PostToConnectionCommand)[0]!.args[0].input).toStrictEqual({
      ConnectionId: 'all',
      Data: JSON.stringify({ type: 'stream', ...entries[0] }),
    });
  });

  it('queries each agent’s subscribers once and sends each only its own agent’s entries', async () => {
    documents
      .on(QueryCommand, { IndexName: 'agent_subscribers', ExpressionAttributeValues: { ':agent_id': 'a1' } })
      .resolves({ Items: [subscriber('c1', principal('d1', ['events:read']), ['events.new'])] });
    documents
      .on(QueryCommand, { IndexName: 'agent_subscribers', ExpressionAttributeValues: { ':agent_id': 'a2' } })
      .resolves({
        Items: [subscriber('c2', principal('d2', ['events:read'], 'a2'), ['events.new'], null, 'a2')],
      });
    const a1 = entry(3, 'events.new', null);
    const a2 = entry(9, 'events.new', null, 'a2');
    await fanout().publish([a1, a2]);
    expect(indexQueries()).toHaveLength(2);
    expect(posted()).toStrictEqual({ c1: [{ type: 'stream', ...a1 }], c2: [{ type: 'stream', ...a2 }] });
  });

  it('a GoneException deletes that connection and stops sending to it; the others still get theirs', async () => {
    documents.on(QueryCommand, { IndexName: 'agent_subscribers' }).resolves({
      Items: [
        subscriber('gone', principal('d1', ['events:read']), ['events.new']),
        subscriber('live', principal('d2', ['events:read']), ['events.new']),
      ],
    });
    documents
      .on(QueryCommand, { KeyConditionExpression: 'connection_id = :connection_id' })
      .resolves({ Items: [{ item_id: 'connection' }, { item_id: 'subscription#a1' }] });
    apigw
      .on(PostToConnectionCommand, { ConnectionId: 'gone' })
      .rejects(new GoneException({ $metadata: { httpStatusCode: 410 }, message: 'Gone' }));
    const entries = [entry(1, 'events.new', null), entry(2, 'events.new', null)];
    await fanout().publish(entries);

    expect(posted()).toStrictEqual({
      gone: [{ type: 'stream', ...entries[0] }],
      live: entries.map((e) => ({ type: 'stream', ...e })),
    });
    expect(documents.commandCalls(DeleteCommand).map((call) => call.args[0].input)).toStrictEqual([
      { TableName: TABLE, Key: { connection_id: 'gone', item_id: 'connection' } },
      { TableName: TABLE, Key: { connection_id: 'gone', item_id: 'subscription#a1' } },
    ]);
  });

  it('another error for one connection is logged, deletes nothing, and does not stop the others', async () => {
    documents.on(QueryCommand, { IndexName: 'agent_subscribers' }).resolves({
      Items: [
        subscriber('failing', principal('d1', ['events:read']), ['events.new']),
        subscriber('live', principal('d2', ['events:read']), ['events.new']),
      ],
    });
    apigw
      .on(PostToConnectionCommand, { ConnectionId: 'failing' })
      .rejects(new ForbiddenException({ $metadata: { httpStatusCode: 403 }, message: 'Forbidden' }));
    const logger = new RecordingLogger();
    const entries = [entry(1, 'events.new', null), entry(2, 'events.new', null)];
    await fanout(logger).publish(entries);

    expect(posted()['live']).toStrictEqual(entries.map((e) => ({ type: 'stream', ...e })));
    expect(posted()['failing']).toHaveLength(1);
    expect(documents.commandCalls(DeleteCommand)).toHaveLength(0);
    expect(logger.warnings).toEqual([expect.stringContaining('could not send seq 1 to failing')]);
  });

  it('leaves entries up to a subscription’s live_after to the subscribe that replays them', async () => {
    documents.on(QueryCommand, { IndexName: 'agent_subscribers' }).resolves({
      Items: [
        subscriber('replaying', principal('d1', ['events:read']), ['events.new'], null, 'a1', 8),
        subscriber('live', principal('d2', ['events:read']), ['events.new']),
      ],
    });
    const entries = [entry(8, 'events.new', null), entry(9, 'events.new', null)];
    await fanout().publish(entries);
    expect(posted()).toStrictEqual({
      replaying: [{ type: 'stream', ...entries[1] }],
      live: entries.map((e) => ({ type: 'stream', ...e })),
    });
  });

  it('sends nothing when the agent has no subscribers', async () => {
    documents.on(QueryCommand, { IndexName: 'agent_subscribers' }).resolves({ Items: [] });
    await fanout().publish([entry(1, 'events.new', null)]);
    expect(indexQueries()).toHaveLength(1);
    expect(apigw.commandCalls(PostToConnectionCommand)).toHaveLength(0);
  });
});
