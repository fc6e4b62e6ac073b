import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { Clock } from '@marvain/platform';
import { epochSeconds, isLive, type ConnectionStore, type StoredConnection } from '@marvain/realtime';

/**
 * The AWS runtime's connection store: a DynamoDB table keyed by `connection_id` (S) with TTL on
 * `expires_at` (N, epoch seconds). DynamoDB deletes expired items lazily (typically within a few
 * days), so every read filters them out and `touch` refuses to revive one.
 *
 * `listByAgent` scans the table with a filter on `agent_ids`: every read costs the whole table,
 * which is fine for one person's handful of devices and consoles. The scale path is a GSI on an
 * (agent_id, connection_id) item per subscription, queried instead of scanned.
 */
export class DynamoConnectionStore implements ConnectionStore {
  /** `client` hands out the SDK client; awsAdapters makes it on the first call (see `once` there). */
  constructor(
    private readonly client: () => DynamoDBDocumentClient,
    private readonly table: string,
    private readonly clock: Clock,
  ) {}

  async put(connection: StoredConnection): Promise<void> {
    await this.client().send(new PutCommand({ TableName: this.table, Item: { ...connection } }));
  }

  async get(connectionId: string): Promise<StoredConnection | null> {
    const result = await this.client().send(
      new GetCommand({ TableName: this.table, Key: { connection_id: connectionId }, ConsistentRead: true }),
    );
    const item = result.Item as StoredConnection | undefined;
    return item && isLive(item, this.clock.now()) ? item : null;
  }

  async delete(connectionId: string): Promise<void> {
    await this.client().send(new DeleteCommand({ TableName: this.table, Key: { connection_id: connectionId } }));
  }

  async touch(connectionId: string, expiresAt: number): Promise<boolean> {
    try {
      await this.client().send(
        new UpdateCommand({
          TableName: this.table,
          Key: { connection_id: connectionId },
          UpdateExpression: 'SET expires_at = :expires_at',
          ConditionExpression: 'attribute_exists(connection_id) AND expires_at > :now',
          ExpressionAttributeValues: { ':expires_at': expiresAt, ':now': epochSeconds(this.clock.now()) },
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

  async listByAgent(agentId: string): Promise<StoredConnection[]> {
    const now = this.clock.now();
    const found: StoredConnection[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client().send(
        new ScanCommand({
          TableName: this.table,
          FilterExpression: 'contains(agent_ids, :agent_id) AND expires_at > :now',
          ExpressionAttributeValues: { ':agent_id': agentId, ':now': epochSeconds(now) },
          ConsistentRead: true,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of (page.Items ?? []) as StoredConnection[]) {
        if (isLive(item, now)) {
          found.push(item);
        }
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return found;
  }
}
