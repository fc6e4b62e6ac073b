import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { Principal } from '@marvain/contracts';
import type { Clock } from '@marvain/platform';
import {
  epochSeconds,
  isLive,
  principalKey,
  type ConnectionStore,
  type StoredConnection,
  type StoredSubscription,
  type Subscriber,
} from '@marvain/realtime';

/** The sort key of a connection's own item; its subscriptions' are SUBSCRIPTION_PREFIX + agent id. */
export const CONNECTION_ITEM = 'connection';
export const SUBSCRIPTION_PREFIX = 'subscription#';
/** GSI on the subscription items: partition `agent_id`, sort `connection_id`, all attributes. */
export const SUBSCRIBERS_INDEX = 'agent_subscribers';
/** GSI on the connection items: partition `principal_key`, sort `connection_id`, plus `expires_at`. */
export const PRINCIPAL_INDEX = 'principal_connections';

/** A connection's own item: the StoredConnection without subscriptions, plus the keys. */
type ConnectionItem = Omit<StoredConnection, 'subscriptions'> & { item_id: string; principal_key: string };

/** One subscription's item: what fan-out needs without reading the connection's item. */
interface SubscriptionItem extends StoredSubscription {
  connection_id: string;
  item_id: string;
  principal: Principal;
  live_after: number;
  expires_at: number;
}

/**
 * The AWS runtime's connection store: one DynamoDB table keyed by `connection_id` (S, partition)
 * and `item_id` (S, sort), TTL on `expires_at` (N, epoch seconds). Each connection is one item
 * (`item_id` = "connection") plus one per subscription (`item_id` = "subscription#<agent id>"),
 * which copies the principal and expiry so that fan-out is one Query on the `agent_subscribers`
 * index and nothing else. DynamoDB deletes expired items lazily (typically within a few days), so
 * every read filters them out and `touch` refuses to revive one.
 *
 * The indexes are eventually consistent: a subscription made a moment before a broadcast may miss
 * it. The stream's gap-free seq lets the client see the gap and resubscribe from it.
 */
export class DynamoConnectionStore implements ConnectionStore {
  /** `client` hands out the SDK client; awsAdapters makes it on the first call (see `once` there). */
  constructor(
    private readonly client: () => DynamoDBDocumentClient,
    private readonly table: string,
    private readonly clock: Clock,
  ) {}

  async put(connection: StoredConnection): Promise<void> {
    const { subscriptions = [], ...record } = connection;
    const keep = new Set(subscriptions.map((s) => subscriptionItemId(s.agent_id)));
    const stale = (await this.itemIds(connection.connection_id)).filter(
      (id) => id !== CONNECTION_ITEM && !keep.has(id),
    );
    const item: ConnectionItem = { ...record, item_id: CONNECTION_ITEM, principal_key: principalKey(record.principal) };
    await Promise.all([
      this.client().send(new PutCommand({ TableName: this.table, Item: item })),
      ...subscriptions.map((subscription) => this.writeSubscription(record, subscription, 0)),
      ...stale.map((id) => this.deleteItem(connection.connection_id, id)),
    ]);
  }

  async get(connectionId: string): Promise<StoredConnection | null> {
    const items = await this.query({
      TableName: this.table,
      KeyConditionExpression: 'connection_id = :connection_id',
      ExpressionAttributeValues: { ':connection_id': connectionId },
      ConsistentRead: true,
    });
    const record = items.find((item) => item['item_id'] === CONNECTION_ITEM) as ConnectionItem | undefined;
    if (!record || !isLive(record, this.clock.now())) {
      return null;
    }
    const { item_id: _item, principal_key: _key, ...connection } = record;
    const subscriptions = (items as unknown as SubscriptionItem[])
      .filter((item) => item.item_id.startsWith(SUBSCRIPTION_PREFIX))
      .map((item) => ({ agent_id: item.agent_id, space_id: item.space_id, topics: item.topics }));
    return { ...connection, subscriptions };
  }

  async delete(connectionId: string): Promise<void> {
    const ids = await this.itemIds(connectionId);
    await Promise.all(ids.map((id) => this.deleteItem(connectionId, id)));
  }

  async touch(connectionId: string, expiresAt: number): Promise<boolean> {
    if (!(await this.setExpiry(connectionId, CONNECTION_ITEM, expiresAt, 'expires_at > :now'))) {
      return false;
    }
    const subscriptions = (await this.itemIds(connectionId)).filter((id) => id !== CONNECTION_ITEM);
    // A subscription deleted meanwhile stays deleted (the condition refuses to recreate it).
    await Promise.all(subscriptions.map((id) => this.setExpiry(connectionId, id, expiresAt)));
    return true;
  }

  async putSubscription(connectionId: string, subscription: StoredSubscription, liveAfter: number): Promise<boolean> {
    const result = await this.client().send(
      new GetCommand({
        TableName: this.table,
        Key: { connection_id: connectionId, item_id: CONNECTION_ITEM },
        ConsistentRead: true,
      }),
    );
    const record = result.Item as ConnectionItem | undefined;
    if (!record || !isLive(record, this.clock.now())) {
      return false;
    }
    await this.writeSubscription(record, subscription, liveAfter);
    return true;
  }

  async deleteSubscription(connectionId: string, agentId: string): Promise<void> {
    await this.deleteItem(connectionId, subscriptionItemId(agentId));
  }

  async listSubscribers(agentId: string): Promise<Subscriber[]> {
    const now = this.clock.now();
    const items = (await this.query({
      TableName: this.table,
      IndexName: SUBSCRIBERS_INDEX,
      KeyConditionExpression: 'agent_id = :agent_id',
      FilterExpression: 'expires_at > :now',
      ExpressionAttributeValues: { ':agent_id': agentId, ':now': epochSeconds(now) },
    })) as unknown as SubscriptionItem[];
    return items
      .filter((item) => isLive(item, now))
      .map((item) => ({
        connection_id: item.connection_id,
        principal: item.principal,
        subscription: { agent_id: item.agent_id, space_id: item.space_id, topics: item.topics },
        live_after: item.live_after,
        expires_at: item.expires_at,
      }));
  }

  async listByPrincipal(principal: Pick<Principal, 'type' | 'id'>): Promise<string[]> {
    const now = this.clock.now();
    const items = await this.query({
      TableName: this.table,
      IndexName: PRINCIPAL_INDEX,
      KeyConditionExpression: 'principal_key = :principal_key',
      FilterExpression: 'expires_at > :now',
      ExpressionAttributeValues: { ':principal_key': principalKey(principal), ':now': epochSeconds(now) },
    });
    return (items as Array<{ connection_id: string; expires_at: number }>)
      .filter((item) => isLive(item, now))
      .map((item) => item.connection_id);
  }

  private async writeSubscription(
    record: Pick<StoredConnection, 'connection_id' | 'principal' | 'expires_at'>,
    subscription: StoredSubscription,
    liveAfter: number,
  ): Promise<void> {
    const item: SubscriptionItem = {
      connection_id: record.connection_id,
      item_id: subscriptionItemId(subscription.agent_id),
      agent_id: subscription.agent_id,
      space_id: subscription.space_id,
      topics: subscription.topics,
      principal: record.principal,
      live_after: liveAfter,
      expires_at: record.expires_at,
    };
    await this.client().send(new PutCommand({ TableName: this.table, Item: item }));
  }

  /** The sort keys of every item the connection has, expired or not (all of them go on delete). */
  private async itemIds(connectionId: string): Promise<string[]> {
    const items = await this.query({
      TableName: this.table,
      KeyConditionExpression: 'connection_id = :connection_id',
      ExpressionAttributeValues: { ':connection_id': connectionId },
      ProjectionExpression: 'item_id',
      ConsistentRead: true,
    });
    return items.map((item) => item['item_id'] as string);
  }

  private async deleteItem(connectionId: string, itemId: string): Promise<void> {
    await this.client().send(
      new DeleteCommand({ TableName: this.table, Key: { connection_id: connectionId, item_id: itemId } }),
    );
  }

  /** false when the item is missing, or `condition` fails. */
  private async setExpiry(
    connectionId: string,
    itemId: string,
    expiresAt: number,
    condition?: string,
  ): Promise<boolean> {
    try {
      await this.client().send(
        new UpdateCommand({
          TableName: this.table,
          Key: { connection_id: connectionId, item_id: itemId },
          UpdateExpression: 'SET expires_at = :expires_at',
          ConditionExpression: `attribute_exists(connection_id)${condition ? ` AND ${condition}` : ''}`,
          ExpressionAttributeValues: {
            ':expires_at': expiresAt,
            ...(condition ? { ':now': epochSeconds(this.clock.now()) } : {}),
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') {
        return false;
      }
      throw error;
    }
  }

  /** Every page of a query's items. */
  private async query(input: QueryCommandInput): Promise<Array<Record<string, unknown>>> {
    const items: Array<Record<string, unknown>> = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client().send(
        new QueryCommand({ ...input, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }
}

function subscriptionItemId(agentId: string): string {
  return `${SUBSCRIPTION_PREFIX}${agentId}`;
}
