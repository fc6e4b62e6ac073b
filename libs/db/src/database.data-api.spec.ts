import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RDSDataClient,
  RollbackTransactionCommand,
} from '@aws-sdk/client-rds-data';
import { mockClient } from 'aws-sdk-client-mock';
import { openDatabase } from './database';
import { asJson, asUuid } from './casts';

const target = {
  kind: 'data-api' as const,
  resourceArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:marvain',
  secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:marvain-db',
  database: 'marvain',
  region: 'eu-west-1',
};

describe('the RDS Data API dialect', () => {
  const rds = mockClient(RDSDataClient);
  afterEach(() => rds.reset());

  it('sends one ExecuteStatement per query to the configured cluster, with casts in the SQL and typed parameters', async () => {
    rds.on(ExecuteStatementCommand).resolves({
      columnMetadata: [{ name: 'agent_id' }, { name: 'name' }],
      records: [[{ stringValue: '0b7a1c3e-7d52-4d0e-9a55-3c1f5f2a9b10' }, { stringValue: 'Forge' }]],
    });
    const handle = await openDatabase(target);
    try {
      const rows = await handle.db
        .selectFrom('agents')
        .select(['agent_id', 'name'])
        .where('agent_id', '=', asUuid('0b7a1c3e-7d52-4d0e-9a55-3c1f5f2a9b10'))
        .where('disabled', '=', false)
        .execute();
      expect(rows).toEqual([{ agent_id: '0b7a1c3e-7d52-4d0e-9a55-3c1f5f2a9b10', name: 'Forge' }]);
    } finally {
      await handle.close();
    }
    expect(handle.kind).toBe('data-api');
    const calls = rds.commandCalls(ExecuteStatementCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]?.args[0].input;
    expect(input).toMatchObject({
      resourceArn: target.resourceArn,
      secretArn: target.secretArn,
      database: 'marvain',
      includeResultMetadata: true,
      sql: 'select "agent_id", "name" from "agents" where "agent_id" = :0::uuid and "disabled" = :1',
    });
    expect(input?.parameters).toEqual([
      { name: '0', value: { stringValue: '0b7a1c3e-7d52-4d0e-9a55-3c1f5f2a9b10' } },
      { name: '1', value: { booleanValue: false } },
    ]);
  });

  it('runs a transaction as BeginTransaction, statements carrying its id, and CommitTransaction', async () => {
    rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-1' });
    rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 1 });
    rds.on(CommitTransactionCommand).resolves({ transactionStatus: 'Transaction Committed' });
    const handle = await openDatabase(target);
    try {
      await handle.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('people')
          .values({
            person_id: asUuid('9c1e0f7a-4b5d-4c3e-8f2a-1d6b7e8f9a0b'),
            agent_id: asUuid('0b7a1c3e-7d52-4d0e-9a55-3c1f5f2a9b10'),
            display_name: 'Sam',
          })
          .execute();
        await trx
          .updateTable('devices')
          .set({ metadata: asJson({ is_remote: true }) })
          .where('name', '=', 'pi')
          .execute();
      });
    } finally {
      await handle.close();
    }
    expect(rds.commandCalls(BeginTransactionCommand)[0]?.args[0].input).toMatchObject({
      resourceArn: target.resourceArn,
      database: 'marvain',
    });
    const statements = rds.commandCalls(ExecuteStatementCommand).map((c) => c.args[0].input);
    expect(statements.map((s) => s.transactionId)).toEqual(['tx-1', 'tx-1']);
    expect(statements[1]?.sql).toContain(':0::jsonb');
    expect(statements[1]?.parameters?.[0]).toEqual({ name: '0', value: { stringValue: '{"is_remote":true}' } });
    expect(rds.commandCalls(CommitTransactionCommand)[0]?.args[0].input).toMatchObject({ transactionId: 'tx-1' });
    expect(rds.commandCalls(RollbackTransactionCommand)).toHaveLength(0);
  });

  it("surfaces the statement's own error when the service has already ended the failed transaction", async () => {
    rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-3' });
    rds
      .on(ExecuteStatementCommand)
      .rejects(
        Object.assign(
          new Error(
            'ERROR: duplicate key value violates unique constraint "spaces_agent_id_name_key"; SQLState: 23505',
          ),
          { name: 'DatabaseErrorException' },
        ),
      );
    rds
      .on(RollbackTransactionCommand)
      .rejects(Object.assign(new Error('Transaction tx-3 is not found'), { name: 'TransactionNotFoundException' }));
    const handle = await openDatabase(target);
    try {
      await expect(
        handle.db.transaction().execute((trx) => trx.deleteFrom('spaces').where('name', '=', 'x').execute()),
      ).rejects.toThrow(/duplicate key value/);
    } finally {
      await handle.close();
    }
    expect(rds.commandCalls(RollbackTransactionCommand)).toHaveLength(1);
  });

  it('rolls the transaction back when the work fails', async () => {
    rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-2' });
    rds.on(ExecuteStatementCommand).rejects(new Error('duplicate key value violates unique constraint'));
    rds.on(RollbackTransactionCommand).resolves({ transactionStatus: 'Rollback Complete' });
    const handle = await openDatabase(target);
    try {
      await expect(
        handle.db.transaction().execute((trx) => trx.deleteFrom('presence').where('status', '=', 'offline').execute()),
      ).rejects.toThrow(/duplicate key/);
    } finally {
      await handle.close();
    }
    expect(rds.commandCalls(RollbackTransactionCommand)[0]?.args[0].input).toMatchObject({ transactionId: 'tx-2' });
    expect(rds.commandCalls(CommitTransactionCommand)).toHaveLength(0);
  });
});
