import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { Clock } from '@marvain/platform';
import type { StoredConnection } from '@marvain/realtime';
import { DynamoConnectionStore } from './dynamo-connection-store';

const TABLE = 'marvain-connections';
const NOW = new Date('2026-11-20T10:00:00.500Z');
const NOW_SECONDS = 1_795_168_800; // floor(NOW / 1000)
const clock: Clock = { now: () => new Date(NOW) };

const documents = mockClient(DynamoDBDocumentClient);

function sent(): Array<{ command: string; input: unknown }> {
  return documents.calls().map((call) => ({ command: call.args[0].constructor.name, input: call.args[0].input }));
}

function store(): DynamoConnectionStore {
  return new DynamoConnectionStore(
    () => DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
    TABLE,
    clock,
  );
}

function connection(id: string, expiresAt = NOW_SECONDS + 3600, agentIds = ['a1']): StoredConnection {
  return {
    connection_id: id,
    principal: {
      type: 'device',
      id: 'd1',
      agents: agentIds.map((agent_id) => ({ agent_id, scopes: ['events:write', 'memories:read'] })),
    },
    agent_ids: agentIds,
    connected_at: '2026-11-20T10:00:00.000Z',
    expires_at: expiresAt,
  };
}

describe('DynamoConnectionStore', () => {
  beforeEach(() => {
    documents.reset();
  });

  it('derives NOW_SECONDS from NOW', () => {
    expect(NOW_SECONDS).toBe(Math.floor(NOW.getTime() / 1000));
  });

  it('puts the connection as one item keyed by connection_id', async () => {
    await store().put(connection('Gk1abcd='));
    expect(sent()).toStrictEqual([
      { command: 'PutCommand', input: { TableName: TABLE, Item: connection('Gk1abcd=') } },
    ]);
  });

  it('gets a live connection with a consistent read', async () => {
    documents.on(GetCommand).resolves({ Item: connection('c1') });
    expect(await store().get('c1')).toEqual(connection('c1'));
    expect(sent()).toStrictEqual([
      { command: 'GetCommand', input: { TableName: TABLE, Key: { connection_id: 'c1' }, ConsistentRead: true } },
    ]);
  });

  it('answers null for a missing connection, and for an expired one TTL has not deleted yet', async () => {
    documents
      .on(GetCommand)
      .resolvesOnce({})
      .resolvesOnce({ Item: connection('c1', NOW_SECONDS) })
      .resolvesOnce({ Item: connection('c1', NOW_SECONDS + 1) });
    expect(await store().get('c1')).toBeNull();
    expect(await store().get('c1')).toBeNull();
    expect(await store().get('c1')).not.toBeNull();
  });

  it('deletes by key', async () => {
    await store().delete('c1');
    expect(sent()).toStrictEqual([
      { command: 'DeleteCommand', input: { TableName: TABLE, Key: { connection_id: 'c1' } } },
    ]);
  });

  it('touch sets expires_at only on an existing, unexpired item', async () => {
    expect(await store().touch('c1', NOW_SECONDS + 600)).toBe(true);
    expect(sent()).toStrictEqual([
      {
        command: 'UpdateCommand',
        input: {
          TableName: TABLE,
          Key: { connection_id: 'c1' },
          UpdateExpression: 'SET expires_at = :expires_at',
          ConditionExpression: 'attribute_exists(connection_id) AND expires_at > :now',
          ExpressionAttributeValues: { ':expires_at': NOW_SECONDS + 600, ':now': NOW_SECONDS },
        },
      },
    ]);
  });

  it('touch answers false when the condition fails, and passes other errors on', async () => {
    documents
      .on(UpdateCommand)
      .rejectsOnce(new ConditionalCheckFailedException({ $metadata: {}, message: 'The conditional request failed' }))
      .rejectsOnce(new Error('ProvisionedThroughputExceededException'));
    expect(await store().touch('gone', NOW_SECONDS + 600)).toBe(false);
    await expect(store().touch('c1', NOW_SECONDS + 600)).rejects.toThrow('ProvisionedThroughputExceededException');
  });

  it('lists an agent’s live connections with a filtered scan over every page', async () => {
    documents
      .on(ScanCommand)
      .resolvesOnce({ Items: [connection('c1')], LastEvaluatedKey: { connection_id: 'c1' } })
      // An item whose expiry passes between DynamoDB's filter and now is still left out.
      .resolvesOnce({ Items: [connection('c2'), connection('c3', NOW_SECONDS)] });
    expect((await store().listByAgent('a1')).map((c) => c.connection_id)).toEqual(['c1', 'c2']);
    const scan = {
      TableName: TABLE,
      FilterExpression: 'contains(agent_ids, :agent_id) AND expires_at > :now',
      ExpressionAttributeValues: { ':agent_id': 'a1', ':now': NOW_SECONDS },
      ConsistentRead: true,
    };
    expect(sent()).toStrictEqual([
      { command: 'ScanCommand', input: scan },
      { command: 'ScanCommand', input: { ...scan, ExclusiveStartKey: { connection_id: 'c1' } } },
    ]);
  });

  it('lists nothing when the scan finds nothing', async () => {
    documents.on(ScanCommand).resolves({ Items: [] });
    expect(await store().listByAgent('a9')).toEqual([]);
    expect(documents.calls()).toHaveLength(1);
  });
});
