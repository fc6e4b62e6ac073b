import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { Clock } from '@marvain/platform';
import type { StoredConnection, StoredSubscription } from '@marvain/realtime';
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

function record(id: string, expiresAt = NOW_SECONDS + 3600): Record<string, unknown> {
  return { ...connection(id, expiresAt), item_id: 'connection', principal_key: 'device#d1' };
}

function subscription(agentId: string): StoredSubscription {
  return { agent_id: agentId, space_id: null, topics: ['events.new', 'memories.new'] };
}

function subscriptionItem(id: string, agentId: string, expiresAt = NOW_SECONDS + 3600): Record<string, unknown> {
  return {
    connection_id: id,
    item_id: `subscription#${agentId}`,
    ...subscription(agentId),
    principal: connection(id).principal,
    live_after: 7,
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

  it('puts the connection as its own item and one item per subscription, and drops stale subscriptions', async () => {
    documents.on(QueryCommand).resolves({
      Items: [{ item_id: 'connection' }, { item_id: 'subscription#a1' }, { item_id: 'subscription#a2' }],
    });
    const subscriptions: StoredSubscription[] = [{ agent_id: 'a1', space_id: 's1', topics: ['events.new'] }];
    await store().put({ ...connection('Gk1abcd=', NOW_SECONDS + 3600, ['a1', 'a2']), subscriptions });
    const { principal } = connection('Gk1abcd=', NOW_SECONDS + 3600, ['a1', 'a2']);
    expect(sent()).toStrictEqual([
      {
        command: 'QueryCommand',
        input: {
          TableName: TABLE,
          KeyConditionExpression: 'connection_id = :connection_id',
          ExpressionAttributeValues: { ':connection_id': 'Gk1abcd=' },
          ProjectionExpression: 'item_id',
          ConsistentRead: true,
        },
      },
      {
        command: 'PutCommand',
        input: {
          TableName: TABLE,
          Item: {
            ...connection('Gk1abcd=', NOW_SECONDS + 3600, ['a1', 'a2']),
            item_id: 'connection',
            principal_key: 'device#d1',
          },
        },
      },
      {
        command: 'PutCommand',
        input: {
          TableName: TABLE,
          Item: {
            connection_id: 'Gk1abcd=',
            item_id: 'subscription#a1',
            agent_id: 'a1',
            space_id: 's1',
            topics: ['events.new'],
            principal,
            live_after: 0,
            expires_at: NOW_SECONDS + 3600,
          },
        },
      },
      {
        command: 'DeleteCommand',
        input: { TableName: TABLE, Key: { connection_id: 'Gk1abcd=', item_id: 'subscription#a2' } },
      },
    ]);
  });

  it('gets a live connection with its subscriptions in one consistent query, over every page', async () => {
    documents
      .on(QueryCommand)
      .resolvesOnce({ Items: [record('c1')], LastEvaluatedKey: { connection_id: 'c1', item_id: 'connection' } })
      .resolvesOnce({ Items: [subscriptionItem('c1', 'a1')] });
    expect(await store().get('c1')).toStrictEqual({ ...connection('c1'), subscriptions: [subscription('a1')] });
    const query = {
      TableName: TABLE,
      KeyConditionExpression: 'connection_id = :connection_id',
      ExpressionAttributeValues: { ':connection_id': 'c1' },
      ConsistentRead: true,
    };
    expect(sent()).toStrictEqual([
      { command: 'QueryCommand', input: query },
      {
        command: 'QueryCommand',
        input: { ...query, ExclusiveStartKey: { connection_id: 'c1', item_id: 'connection' } },
      },
    ]);
  });

  it('answers null for a missing connection, for an expired one TTL has not deleted yet, and for orphaned subscriptions', async () => {
    documents
      .on(QueryCommand)
      .resolvesOnce({ Items: [] })
      .resolvesOnce({ Items: [record('c1', NOW_SECONDS)] })
      .resolvesOnce({ Items: [subscriptionItem('c1', 'a1')] })
      .resolvesOnce({ Items: [record('c1', NOW_SECONDS + 1)] });
    expect(await store().get('c1')).toBeNull();
    expect(await store().get('c1')).toBeNull();
    expect(await store().get('c1')).toBeNull();
    expect(await store().get('c1')).not.toBeNull();
  });

  it('deletes every item of the connection, expired ones too', async () => {
    documents.on(QueryCommand).resolves({ Items: [{ item_id: 'connection' }, { item_id: 'subscription#a1' }] });
    await store().delete('c1');
    expect(sent().slice(1)).toStrictEqual([
      { command: 'DeleteCommand', input: { TableName: TABLE, Key: { connection_id: 'c1', item_id: 'connection' } } },
      {
        command: 'DeleteCommand',
        input: { TableName: TABLE, Key: { connection_id: 'c1', item_id: 'subscription#a1' } },
      },
    ]);
  });

  it('touch sets expires_at on an existing, unexpired connection and on its subscriptions', async () => {
    documents.on(QueryCommand).resolves({ Items: [{ item_id: 'connection' }, { item_id: 'subscription#a1' }] });
    expect(await store().touch('c1', NOW_SECONDS + 600)).toBe(true);
    expect(sent().filter((call) => call.command === 'UpdateCommand')).toStrictEqual([
      {
        command: 'UpdateCommand',
        input: {
          TableName: TABLE,
          Key: { connection_id: 'c1', item_id: 'connection' },
          UpdateExpression: 'SET expires_at = :expires_at',
          ConditionExpression: 'attribute_exists(connection_id) AND expires_at > :now',
          ExpressionAttributeValues: { ':expires_at': NOW_SECONDS + 600, ':now': NOW_SECONDS },
        },
      },
      {
        command: 'UpdateCommand',
        input: {
          TableName: TABLE,
          Key: { connection_id: 'c1', item_id: 'subscription#a1' },
          UpdateExpression: 'SET expires_at = :expires_at',
          ConditionExpression: 'attribute_exists(connection_id)',
          ExpressionAttributeValues: { ':expires_at': NOW_SECONDS + 600 },
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
    expect(documents.commandCalls(QueryCommand)).toHaveLength(0);
  });

  it('putSubscription writes one item copying the live connection’s principal and expiry', async () => {
    documents.on(GetCommand).resolves({ Item: record('c1') });
    expect(await store().putSubscription('c1', subscription('a1'), 7)).toBe(true);
    expect(sent()).toStrictEqual([
      {
        command: 'GetCommand',
        input: { TableName: TABLE, Key: { connection_id: 'c1', item_id: 'connection' }, ConsistentRead: true },
      },
      { command: 'PutCommand', input: { TableName: TABLE, Item: subscriptionItem('c1', 'a1') } },
    ]);
  });

  it('putSubscription writes nothing for a missing or expired connection', async () => {
    documents
      .on(GetCommand)
      .resolvesOnce({})
      .resolvesOnce({ Item: record('c1', NOW_SECONDS) });
    expect(await store().putSubscription('c1', subscription('a1'), 7)).toBe(false);
    expect(await store().putSubscription('c1', subscription('a1'), 7)).toBe(false);
    expect(documents.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('deleteSubscription deletes the one item by key', async () => {
    await store().deleteSubscription('c1', 'a1');
    expect(sent()).toStrictEqual([
      {
        command: 'DeleteCommand',
        input: { TableName: TABLE, Key: { connection_id: 'c1', item_id: 'subscription#a1' } },
      },
    ]);
  });

  it('lists an agent’s live subscribers with a query on the subscribers index over every page', async () => {
    documents
      .on(QueryCommand)
      .resolvesOnce({
        Items: [subscriptionItem('c1', 'a1')],
        LastEvaluatedKey: { agent_id: 'a1', connection_id: 'c1', item_id: 'subscription#a1' },
      })
      // An item whose expiry passes between DynamoDB's filter and now is still left out.
      .resolvesOnce({ Items: [subscriptionItem('c2', 'a1'), subscriptionItem('c3', 'a1', NOW_SECONDS)] });
    const subscribers = await store().listSubscribers('a1');
    expect(subscribers).toStrictEqual(
      ['c1', 'c2'].map((id) => ({
        connection_id: id,
        principal: connection(id).principal,
        subscription: subscription('a1'),
        live_after: 7,
        expires_at: NOW_SECONDS + 3600,
      })),
    );
    const query = {
      TableName: TABLE,
      IndexName: 'agent_subscribers',
      KeyConditionExpression: 'agent_id = :agent_id',
      FilterExpression: 'expires_at > :now',
      ExpressionAttributeValues: { ':agent_id': 'a1', ':now': NOW_SECONDS },
    };
    expect(sent()).toStrictEqual([
      { command: 'QueryCommand', input: query },
      {
        command: 'QueryCommand',
        input: {
          ...query,
          ExclusiveStartKey: { agent_id: 'a1', connection_id: 'c1', item_id: 'subscription#a1' },
        },
      },
    ]);
  });

  it('lists a principal’s live connection ids with a query on the principal index', async () => {
    documents.on(QueryCommand).resolves({
      Items: [
        { connection_id: 'c1', item_id: 'connection', principal_key: 'device#d1', expires_at: NOW_SECONDS + 1 },
        { connection_id: 'c2', item_id: 'connection', principal_key: 'device#d1', expires_at: NOW_SECONDS },
      ],
    });
    expect(await store().listByPrincipal({ type: 'device', id: 'd1' })).toEqual(['c1']);
    expect(sent()).toStrictEqual([
      {
        command: 'QueryCommand',
        input: {
          TableName: TABLE,
          IndexName: 'principal_connections',
          KeyConditionExpression: 'principal_key = :principal_key',
          FilterExpression: 'expires_at > :now',
          ExpressionAttributeValues: { ':principal_key': 'device#d1', ':now': NOW_SECONDS },
        },
      },
    ]);
  });

  it('lists nothing when the index holds nothing for the agent', async () => {
    documents.on(QueryCommand).resolves({ Items: [] });
    expect(await store().listSubscribers('a9')).toEqual([]);
    expect(documents.calls()).toHaveLength(1);
  });
});
