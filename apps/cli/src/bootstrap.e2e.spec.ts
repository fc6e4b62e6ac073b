import { readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { loadMigrations } from '@marvain/db';
import { readLiveLock, readOperatorConfig, type HubLockInfo } from '@marvain/platform';
import { cli } from './testing/run-cli';

// Each case opens an on-disk PGlite database (and one starts a hub process): seconds, not milliseconds.
jest.setTimeout(120_000);

describe('marvain bootstrap, user create, token issue', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'marvain-cli-'));
    env = { MARVAIN_DATA_DIR: path.join(dir, 'data'), MARVAIN_CONFIG: path.join(dir, 'config', 'marvain-config.yaml') };
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('creates owner, agent, space and device on the embedded database and saves them with mode 0600', async () => {
    const first = await cli(['bootstrap', '--agent-name', 'Forge', '--space-name', 'home', '--json'], env);
    expect(first).toMatchObject({ code: 0, err: '' });
    const printed = JSON.parse(first.out) as Record<string, string>;
    expect(Object.keys(printed).sort()).toEqual(['agent_id', 'device_id', 'device_token', 'space_id', 'user_token']);
    expect(printed['device_token']).toMatch(/^mvd_/);

    const saved = await readOperatorConfig(env['MARVAIN_CONFIG'] as string);
    expect(saved).toMatchObject({
      agent_id: printed['agent_id'],
      device_token: printed['device_token'],
      user_token: printed['user_token'],
    });
    expect(statSync(env['MARVAIN_CONFIG'] as string).mode & 0o777).toBe(0o600);

    // A second agent is owned by the same user (the one in the config file).
    const second = await cli(['bootstrap', '--agent-name', 'Scout', '--space-name', 'office'], env);
    expect(second.code).toBe(0);
    expect(second.out).toContain('Bootstrapped agent "Scout"');
    expect(second.out).not.toContain('mvd_');
    const after = await readOperatorConfig(env['MARVAIN_CONFIG'] as string);
    expect(after?.user_id).toBe(saved?.user_id);
    expect(after?.agent_id).not.toBe(saved?.agent_id);
    // The first agent's credentials (its device token was shown once) are kept; the output says where.
    expect(after?.agents?.[printed['agent_id'] as string]).toMatchObject({
      name: 'Forge',
      device_token: printed['device_token'],
    });
    expect(after?.agents?.[after.agent_id as string]).toMatchObject({
      name: 'Scout',
      device_token: after?.device_token,
    });
    expect(second.out).toContain(
      `saved to ${env['MARVAIN_CONFIG'] as string} (mode 0600) under agents.${after?.agent_id as string}`,
    );
    expect(second.out).toContain(
      `the previous default agent ${printed['agent_id'] as string} keeps its entry under agents.${printed['agent_id'] as string}`,
    );

    // Local users: created with a token; tokens re-issued by id or email; duplicates refused.
    const created = await cli(['user', 'create', '--email', 'Ada@Example.com', '--json'], env);
    expect(created).toMatchObject({ code: 0, err: '' });
    const ada = JSON.parse(created.out) as { user_id: string; user_token: string };
    expect(Object.keys(ada).sort()).toEqual(['user_id', 'user_token']);
    const duplicate = await cli(['user', 'create', '--email', 'ada@example.com'], env);
    expect(duplicate.code).toBe(1);
    expect(duplicate.err).toContain('already exists');
    const byEmail = JSON.parse((await cli(['token', 'issue', '--email', 'ada@example.com', '--json'], env)).out) as {
      user_id: string;
      user_token: string;
    };
    expect(byEmail.user_id).toBe(ada.user_id);
    expect(byEmail.user_token).not.toBe(ada.user_token);
    // Without arguments: the operator's own user, and the saved token is refreshed.
    const mine = JSON.parse((await cli(['token', 'issue', '--json'], env)).out) as {
      user_id: string;
      user_token: string;
    };
    expect(mine.user_id).toBe(saved?.user_id);
    expect((await readOperatorConfig(env['MARVAIN_CONFIG'] as string))?.user_token).toBe(mine.user_token);
    expect((await cli(['token', 'issue', '--email', 'nobody@example.com'], env)).err).toContain('was not found');
    expect((await cli(['user', 'create', '--email', 'not-an-email'], env)).code).toBe(2);

    // Initialising the schema was itself audited, in the hub-wide chain.
    const schemaEntry = JSON.parse(
      readFileSync(
        path.join(env['MARVAIN_DATA_DIR'] as string, 'audit', 'chains', 'system', '000000000001.json'),
        'utf8',
      ),
    );
    expect(schemaEntry).toMatchObject({
      action: 'schema.migrated',
      seq: 1,
      details: { applied: loadMigrations().map((m) => m.version) },
    });
  });

  it('keeps the agent of a config file written before per-agent entries existed', async () => {
    const first = JSON.parse(
      (await cli(['bootstrap', '--agent-name', 'Forge', '--space-name', 'home', '--json'], env)).out,
    ) as Record<string, string>;
    const file = env['MARVAIN_CONFIG'] as string;
    const flat = Object.entries(first)
      .map(([key, value]) => `${key}: ${value}`)
      .join('\n');
    await writeFile(file, `hub_url: http://127.0.0.1:8080\n${flat}\n`, { mode: 0o600 });

    expect((await cli(['bootstrap', '--agent-name', 'Scout', '--space-name', 'office'], env)).code).toBe(0);
    const after = await readOperatorConfig(file);
    expect(after?.agents?.[first['agent_id'] as string]).toMatchObject({
      device_token: first['device_token'],
      space_id: first['space_id'],
    });
    expect(Object.keys(after?.agents ?? {})).toHaveLength(2);
  });

  it('refuses a config file with problems, listing each and naming the file (exit 2)', async () => {
    const file = env['MARVAIN_CONFIG'] as string;
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, 'user_id: 42\ndevice_id: nope\n', { mode: 0o600 });
    const result = await cli(['bootstrap', '--agent-name', 'Forge', '--space-name', 'home'], env);
    expect(result.code).toBe(2);
    expect(result.err).toContain(`${file}: user_id must be a UUID (got 42)`);
    expect(result.err).toContain(`${file}: device_id must be a UUID (got "nope")`);
  });

  it('refuses bad arguments with exit code 2 and a clear message', async () => {
    const missing = await cli(['bootstrap', '--agent-name', 'Forge'], env);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("required option '--space-name <name>' not specified");
    const blank = await cli(['bootstrap', '--agent-name', '  ', '--space-name', 'home'], env);
    expect(blank.code).toBe(2);
    expect(blank.err).toContain('--agent-name must be 1 to 200 characters');
    const badEnv = await cli(['bootstrap', '--agent-name', 'a', '--space-name', 'b'], {
      ...env,
      MARVAIN_PORT: 'eighty',
    });
    expect(badEnv.code).toBe(2);
    expect(badEnv.err).toContain('MARVAIN_PORT must be a whole number');
  });

  it('goes through the running hub when the hub holds the embedded database', async () => {
    const root = path.resolve(__dirname, '..', '..', '..');
    execFileSync(process.execPath, [path.join(root, 'tools/build/bundle.mjs'), 'hub'], { cwd: root, stdio: 'ignore' });
    const hub = spawn(process.execPath, [path.join(root, 'dist/hub/main.cjs')], {
      // This test is about the embedded database's single-process lock, whatever database the suite runs on.
      env: {
        ...withoutDatabaseUrl(process.env),
        ...env,
        MARVAIN_PORT: '0',
        MARVAIN_LOG_LEVEL: 'warn',
        MARVAIN_WORKERS: 'false',
      },
      stdio: 'ignore',
    });
    try {
      const lock = await waitForLiveLock(env['MARVAIN_DATA_DIR'] as string, hub.pid as number);
      const base = `http://127.0.0.1:${lock.port}`;

      const result = await cli(['bootstrap', '--agent-name', 'Forge', '--space-name', 'home', '--json'], env);
      expect(result).toMatchObject({ code: 0, err: '' });
      const printed = JSON.parse(result.out) as Record<string, string>;
      // The running hub knows the new device: its token authenticates against the hub's API.
      const response = await fetch(`${base}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${printed['device_token']}`, 'content-type': 'application/json' },
        body: JSON.stringify({ space_id: printed['space_id'], type: 'note', payload: { text: 'hi' } }),
      });
      expect(response.status).toBe(202);

      // User commands go through the running hub too, and its tokens work against the hub.
      const user = JSON.parse((await cli(['user', 'create', '--email', 'sam@example.com', '--json'], env)).out) as {
        user_id: string;
        user_token: string;
      };
      const me = await fetch(`${base}/v1/me`, { headers: { authorization: `Bearer ${user.user_token}` } });
      expect(await me.json()).toMatchObject({ type: 'user', id: user.user_id, agents: [] });
      const reissued = JSON.parse((await cli(['token', 'issue', '--user-id', user.user_id, '--json'], env)).out) as {
        user_token: string;
      };
      expect(
        (await fetch(`${base}/v1/me`, { headers: { authorization: `Bearer ${reissued.user_token}` } })).status,
      ).toBe(200);

      // Without the lock's secret the control endpoint refuses.
      const forged = await fetch(`${base}/v1/local/bootstrap`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-marvain-control': 'guess' },
        body: JSON.stringify({ agent_name: 'x', space_name: 'y' }),
      });
      expect(forged.status).toBe(401);
    } finally {
      hub.kill('SIGTERM');
      await new Promise((resolve) => hub.once('exit', resolve));
    }
  });
});

function withoutDatabaseUrl(environment: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...environment };
  delete copy['DATABASE_URL'];
  return copy;
}

/** The hub publishes its port in its lock file once it listens. */
async function waitForLiveLock(dataDir: string, pid: number): Promise<HubLockInfo> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const lock = await readLiveLock(dataDir);
    if (lock && lock.pid === pid && lock.port > 0) {
      const health = await fetch(`http://127.0.0.1:${lock.port}/v1/health`).catch(() => null);
      if (health?.ok) {
        return lock;
      }
    }
    if (Date.now() > deadline) {
      throw new Error('the hub did not start within 60 s');
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
