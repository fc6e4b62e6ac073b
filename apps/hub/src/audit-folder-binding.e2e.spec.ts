import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { createTestDatabase, testDatabaseKind } from '@marvain/db/testing';
import { AuditFolderMismatchError, DATABASE_BINDING_KEY, HubConfig, loadHubSettings } from '@marvain/platform';
import { createHubApp } from './setup';

// Real start-ups on an on-disk embedded database: seconds each.
jest.setTimeout(180_000);

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** Every file under a folder with a hash of its bytes: what "nothing was written" compares. */
async function snapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(full);
      } else {
        out[path.relative(root, full)] = createHash('sha256')
          .update(await readFile(full))
          .digest('hex');
      }
    }
  };
  await walk(root);
  return out;
}

describe(`the audit folder is bound to one database (${testDatabaseKind()})`, () => {
  let dir: string;
  let config: HubConfig;
  let auditDir: string;
  let pgliteDir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'marvain-binding-'));
    config = new HubConfig(
      loadHubSettings({
        MARVAIN_DATA_DIR: path.join(dir, 'data'),
        MARVAIN_CONFIG: path.join(dir, 'marvain-config.yaml'),
        MARVAIN_LOG_LEVEL: 'silent',
      }),
    );
    auditDir = config.auditDir;
    pgliteDir = path.join(dir, 'data', 'pglite');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function startAndStop(options: Parameters<typeof createHubApp>[1] = {}): Promise<void> {
    const app = await createHubApp(config, options);
    await app.close();
  }

  const boundId = async (): Promise<string> =>
    (JSON.parse(await readFile(path.join(auditDir, DATABASE_BINDING_KEY), 'utf8')) as { database_id: string })
      .database_id;

  it('refuses to start on a reset embedded database, creating nothing, and starts once the audit folder is moved away', async () => {
    await startAndStop();
    const first = await boundId();
    expect(first).toMatch(new RegExp(`^${UUID}$`));
    await rm(pgliteDir, { recursive: true, force: true });
    const before = await snapshot(auditDir);

    const refused = createHubApp(config);
    await expect(refused).rejects.toBeInstanceOf(AuditFolderMismatchError);
    const message = await refused.catch((error: unknown) => (error as Error).message);
    expect(message).toContain(
      `the audit folder ${auditDir} holds the audit trail of database ${first}, but the embedded database ${pgliteDir} does not exist`,
    );
    expect(message).toContain('Nothing was written');
    expect(message).toContain(`mv "${auditDir}" "${auditDir}.old"`);
    expect(message).toContain('MARVAIN_AUDIT_DIR');
    expect(message).toContain(`put its embedded folder back at ${pgliteDir}`);
    expect(message).toContain('DATABASE_URL');
    expect(existsSync(pgliteDir)).toBe(false);
    expect(await snapshot(auditDir)).toEqual(before);

    // The first choice: move the folder away; a new trail starts, bound to the new database.
    await rename(auditDir, `${auditDir}.old`);
    await startAndStop();
    expect(await boundId()).not.toBe(first);
    await startAndStop(); // and it starts again
  });

  it('refuses another database (the data folder switched to DATABASE_URL) before writing to it or to the folder', async () => {
    await startAndStop();
    const first = await boundId();
    const other = await createTestDatabase();
    try {
      const count = async (): Promise<number> =>
        Number((await sql<{ n: string }>`SELECT count(*)::text AS n FROM audit_entries`.execute(other.db)).rows[0]?.n);
      const rowsBefore = await count();
      const before = await snapshot(auditDir);

      const refused = createHubApp(config, { databaseHandle: other });
      await expect(refused).rejects.toThrow(
        new RegExp(
          `holds the audit trail of database ${first}, but this database \\(.*\\) is database ${UUID}\\. Nothing was written`,
        ),
      );
      expect(await count()).toBe(rowsBefore);
      expect(await snapshot(auditDir)).toEqual(before);
    } finally {
      await other.close();
    }
    // The third choice: back on the database the folder belongs to, it starts.
    await startAndStop();
    expect(await boundId()).toBe(first);
  });
});
