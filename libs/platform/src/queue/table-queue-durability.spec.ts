import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { QueueNames } from '@marvain/contracts';
import { migrate, openDatabase, type DatabaseHandle } from '@marvain/db';
import { ProcessReceiver } from './queue-receiver';
import { TableQueue } from './table-queue';

// Always embedded PGlite on disk, whatever DATABASE_URL says: this is the local hub's own storage.
jest.setTimeout(120_000);

describe('TableQueue on an on-disk PGlite', () => {
  let dataDir: string;
  const opened: DatabaseHandle[] = [];

  beforeAll(() => {
    dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'marvain-queue-durability-')), 'pglite');
  });
  afterAll(async () => {
    for (const handle of opened) {
      await handle.close();
    }
    rmSync(path.dirname(dataDir), { recursive: true, force: true });
  });

  async function open(): Promise<DatabaseHandle> {
    const handle = await openDatabase({ kind: 'pglite', dataDir });
    opened.push(handle);
    await migrate(handle.db);
    return handle;
  }

  it('keeps a sent message across closing and reopening the database', async () => {
    const first = await open();
    expect(first.kind).toBe('pglite');
    await new TableQueue(first.db, 5).send(QueueNames.Transcripts, { event_id: 'e-durable', agent_id: 'a1' });
    await first.close();

    const second = await open();
    const queue = new TableQueue(second.db, 5);
    const received = await queue.receive(QueueNames.Transcripts, { max: 10, visibilityTimeoutSeconds: 30 });
    expect(received.map((m) => m.body)).toEqual([{ event_id: 'e-durable', agent_id: 'a1' }]);
    expect(received[0]?.receiveCount).toBe(1);
    await second.close();
  });

  it('gives a restarted hub at once what its crashed predecessor had received', async () => {
    const folder = path.dirname(dataDir);
    const first = await open();
    // The first process (pid 4100) received the message and died holding it for 10 minutes.
    const crashed = new TableQueue(first.db, 5, new ProcessReceiver(folder, 4100, () => false));
    await crashed.send(QueueNames.Actions, { action_id: 'a-held' });
    expect(await crashed.receive(QueueNames.Actions, { max: 10, visibilityTimeoutSeconds: 600 })).toHaveLength(1);
    await first.close();

    const second = await open();
    const restarted = new TableQueue(second.db, 5, new ProcessReceiver(folder, 4200, () => false));
    expect(await restarted.reclaimAbandoned(QueueNames.Actions)).toBe(1);
    const received = await restarted.receive(QueueNames.Actions, { max: 10, visibilityTimeoutSeconds: 30 });
    expect(received.map((m) => [m.body, m.receiveCount])).toEqual([[{ action_id: 'a-held' }, 2]]);
    await second.close();
  });
});
