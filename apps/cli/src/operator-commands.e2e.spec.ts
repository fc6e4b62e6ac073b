import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cli } from './testing/run-cli';

// Each command opens an on-disk PGlite database: seconds, not milliseconds.
jest.setTimeout(120_000);

describe('marvain user revoke-tokens, audit verify (embedded database, no hub running)', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'marvain-cli-operator-'));
    env = { MARVAIN_DATA_DIR: path.join(dir, 'data'), MARVAIN_CONFIG: path.join(dir, 'config', 'marvain-config.yaml') };
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('revokes a user’s tokens by email or id (audited on the system chain), and verifies that chain and an agent’s', async () => {
    const boot = await cli(['bootstrap', '--agent-name', 'Forge', '--space-name', 'home', '--json'], env);
    expect(boot.code).toBe(0);
    const { agent_id: agentId } = JSON.parse(boot.out) as { agent_id: string };
    const ada = JSON.parse((await cli(['user', 'create', '--email', 'ada@example.com', '--json'], env)).out) as {
      user_id: string;
    };

    const byEmail = await cli(['user', 'revoke-tokens', 'ada@example.com', '--json'], env);
    expect(byEmail).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(byEmail.out)).toEqual({ user_id: ada.user_id, token_version: 1 });
    const byId = await cli(['user', 'revoke-tokens', ada.user_id], env);
    expect(byId).toMatchObject({ code: 0, out: expect.stringContaining('token version is now 2') });
    expect(await cli(['user', 'revoke-tokens', 'not-a-user'], env)).toMatchObject({
      code: 2,
      err: expect.stringContaining('by id (a UUID) or email'),
    });

    const system = await cli(['audit', 'verify', '--system', '--json'], env);
    expect(system.code).toBe(0);
    const verified = JSON.parse(system.out) as { ok: boolean; chain_id: string; entries: number };
    expect(verified).toMatchObject({ ok: true, chain_id: 'system' });
    expect(verified.entries).toBeGreaterThanOrEqual(4); // migrations, user.created, two revocations
    expect(await cli(['audit', 'verify', '--agent', agentId], env)).toMatchObject({
      code: 0,
      out: expect.stringMatching(/^chain .*: ok, \d+ entries/),
    });
    expect(await cli(['audit', 'verify'], env)).toMatchObject({
      code: 2,
      err: expect.stringContaining('--system, or --agent'),
    });

    // Tamper with the system chain's newest object: named, exit code 1.
    const folder = path.join(dir, 'data', 'audit', 'chains', 'system');
    const newest = (await readdir(folder)).sort().at(-1) as string;
    await chmod(path.join(folder, newest), 0o644);
    await writeFile(path.join(folder, newest), '{"tampered":true}', 'utf8');
    const seq = Number(newest.replace('.json', ''));
    const tampered = await cli(['audit', 'verify', '--system'], env);
    expect(tampered).toMatchObject({
      code: 1,
      out: expect.stringContaining(`NOT OK at seq ${seq}`),
      err: expect.stringContaining('does not verify'),
    });
  });

  it('refuses to create a stray embedded database in a data folder whose audit folder belongs to another database', async () => {
    // The same folders as the first case: the audit folder is bound to that embedded database.
    const pglite = path.join(dir, 'data', 'pglite');
    await rm(pglite, { recursive: true, force: true });
    const refused = await cli(['user', 'create', '--email', 'grace@example.com'], env);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(
      `the audit folder ${path.join(dir, 'data', 'audit')} holds the audit trail of database`,
    );
    expect(refused.err).toContain(`the embedded database ${pglite} does not exist`);
    expect(refused.err).toContain('set DATABASE_URL');
    expect(existsSync(pglite)).toBe(false);
  });
});
