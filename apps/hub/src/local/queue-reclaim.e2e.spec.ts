import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { KYSELY, type Database } from '@marvain/db';
import { HubConfig, loadHubSettings, ProcessReceiver } from '@marvain/platform';
import { eventually } from '@marvain/platform/testing';
import { startLocalHub, type RunningLocalHub } from './local-hub';

// Always the embedded database on disk, whatever DATABASE_URL says: that is the local hub's own storage.
// Two starts of a hub on an on-disk PGlite: tens of seconds on a busy machine.
jest.setTimeout(180_000);

/** A pid that was running a moment ago and is not any more: what a crashed hub leaves in its messages. */
function pidOfAnExitedProcess(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('a local hub restarted after a crash', () => {
  const folder = mkdtempSync(path.join(tmpdir(), 'marvain-reclaim-'));
  const running: RunningLocalHub[] = [];
  const config = (workers: boolean): HubConfig =>
    new HubConfig(
      loadHubSettings(
        {
          MARVAIN_DATA_DIR: path.join(folder, 'data'),
          MARVAIN_CONFIG: path.join(folder, 'marvain-config.yaml'),
          MARVAIN_LOG_LEVEL: process.env['MARVAIN_TEST_LOG_LEVEL'] || 'silent',
        },
        {
          port: 0,
          firstRunBootstrap: true,
          workers,
          queue: { visibilityTimeoutSeconds: 30, maxReceives: 5, pollIntervalMs: 100 },
        },
      ),
    );

  afterAll(async () => {
    for (const hub of running.splice(0)) {
      await hub.stop();
    }
    rmSync(folder, { recursive: true, force: true });
  });

  it('plans at once the event its crashed predecessor had received, instead of an hour later', async () => {
    // First life: an event is ingested; its planner message is received by a process that then dies.
    const first = await startLocalHub(config(false));
    running.push(first);
    if (first.outcome.kind !== 'bootstrapped') {
      throw new Error(`expected a first-run bootstrap, got ${first.outcome.kind}`);
    }
    const { deviceToken, userToken, spaceId, agentId } = first.outcome;
    const ingest = await fetch(`${first.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${deviceToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        space_id: spaceId,
        type: 'transcript_chunk',
        payload: { text: 'tell Sam the package arrived' },
      }),
    });
    expect(ingest.status).toBe(202);
    const crashed = new ProcessReceiver(path.join(folder, 'data'), pidOfAnExitedProcess());
    const held = await sql`
      UPDATE queue_messages SET receive_count = 1, receipt = gen_random_uuid(), received_by = ${crashed.tag},
        visible_at = now() + interval '1 hour'
      WHERE queue = 'transcripts'`.execute(first.app.get<Kysely<Database>>(KYSELY));
    expect(Number(held.numAffectedRows)).toBe(1);
    await first.stop();
    running.splice(0);

    // Second life, on the same data folder: the planner gets the message back at start.
    const second = await startLocalHub(config(true));
    running.push(second);
    const memories = await eventually(
      async () => {
        const response = await fetch(`${second.url}/v1/memories?agent_id=${agentId}`, {
          headers: { authorization: `Bearer ${userToken}` },
        });
        const body = (await response.json()) as { memories: Array<{ content: string }> };
        return body.memories.length > 0 ? body.memories : undefined;
      },
      'the reclaimed event to be planned',
      20_000,
    );
    expect(memories.map((m) => m.content)).toEqual(['tell Sam the package arrived']);
  });
});
