import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readLiveLock, readOperatorConfig, type HubLockInfo } from '@marvain/platform';
import { cli } from './testing/run-cli';

// Each command opens an on-disk PGlite database, and one test starts a hub: seconds, not milliseconds.
jest.setTimeout(180_000);

describe('marvain devices add-remote', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let agentId: string;
  let spaceId: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'marvain-cli-remote-'));
    env = { MARVAIN_DATA_DIR: path.join(dir, 'data'), MARVAIN_CONFIG: path.join(dir, 'config', 'marvain-config.yaml') };
    const boot = await cli(['bootstrap', '--agent-name', 'Forge', '--space-name', 'home', '--json'], env);
    expect(boot.code).toBe(0);
    ({ agent_id: agentId, space_id: spaceId } = JSON.parse(boot.out) as { agent_id: string; space_id: string });
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('creates a remote device and prints the two commands that install and start the satellite', async () => {
    const run = await cli(['devices', 'add-remote', '--agent-id', agentId, '--name', 'kitchen'], env);
    expect(run).toMatchObject({ code: 0, err: '' });
    const token = /--token (mvd_[\w-]{43})/.exec(run.out)?.[1];
    expect(token).toBeDefined();
    expect(run.out).toContain('Created remote device "kitchen"');
    expect(run.out).toContain(
      `  curl -fsSLo marvain-satellite.cjs http://127.0.0.1:8080/v1/satellite/marvain-satellite.cjs && node marvain-satellite.cjs init --hub-url http://127.0.0.1:8080 --token ${token} --space-id ${spaceId}\n  node marvain-satellite.cjs run\n`,
    );
    // The default hub URL is a loopback address: the operator is told to name a reachable one.
    expect(run.out).toContain('is a loopback address, which another machine cannot reach');
  });

  it('--json gives {device_id, token, install}, for the hub URL and space named', async () => {
    const otherSpace = '7d7f2a39-3c8e-4a0a-9d2c-5b1f3f4f6a11';
    const run = await cli(
      [
        'devices',
        'add-remote',
        '--agent-id',
        agentId,
        '--name',
        'porch',
        '--hub-url',
        'https://hub.example.com',
        '--space-id',
        otherSpace,
        '--json',
      ],
      env,
    );
    expect(run).toMatchObject({ code: 0, err: '' });
    const printed = JSON.parse(run.out) as { device_id: string; token: string; install: string[] };
    expect(Object.keys(printed).sort()).toEqual(['device_id', 'install', 'token']);
    expect(printed.token).toMatch(/^mvd_[\w-]{43}$/);
    expect(printed.install).toEqual([
      `curl -fsSLo marvain-satellite.cjs https://hub.example.com/v1/satellite/marvain-satellite.cjs && node marvain-satellite.cjs init --hub-url https://hub.example.com --token ${printed.token} --space-id ${otherSpace}`,
      'node marvain-satellite.cjs run',
    ]);
  });

  it('refuses bad arguments and a config without a user token, creating nothing', async () => {
    const badId = await cli(['devices', 'add-remote', '--agent-id', 'forge', '--name', 'x'], env);
    expect(badId).toMatchObject({ code: 2, err: 'marvain: --agent-id must be a UUID\n' });
    const missing = await cli(['devices', 'add-remote', '--agent-id', agentId], env);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("required option '--name <name>' not specified");
    const badUrl = await cli(
      ['devices', 'add-remote', '--agent-id', agentId, '--name', 'x', '--hub-url', 'ftp://x'],
      env,
    );
    expect(badUrl).toMatchObject({ code: 2, err: 'marvain: --hub-url must be an http, https, ws or wss URL\n' });
    const empty = { ...env, MARVAIN_CONFIG: path.join(dir, 'none', 'marvain-config.yaml') };
    const noUser = await cli(['devices', 'add-remote', '--agent-id', agentId, '--name', 'x'], empty);
    expect(noUser.code).toBe(2);
    expect(noUser.err).toContain('holds no user token');
  });

  it('goes through the running hub when it holds the database; the devices are remote with the default scopes', async () => {
    const root = path.resolve(__dirname, '..', '..', '..');
    execFileSync(process.execPath, [path.join(root, 'tools/build/bundle.mjs'), 'hub'], { cwd: root, stdio: 'ignore' });
    const { DATABASE_URL: _ignored, ...withoutDatabaseUrl } = process.env;
    const hub = spawn(process.execPath, [path.join(root, 'dist/hub/main.cjs')], {
      env: { ...withoutDatabaseUrl, ...env, MARVAIN_PORT: '0', MARVAIN_LOG_LEVEL: 'warn', MARVAIN_WORKERS: 'false' },
      stdio: 'ignore',
    });
    try {
      const lock = await waitForLiveLock(env['MARVAIN_DATA_DIR'] as string, hub.pid as number);
      const base = `http://127.0.0.1:${lock.port}`;
      const run = await cli(['devices', 'add-remote', '--agent-id', agentId, '--name', 'garage', '--json'], env);
      expect(run).toMatchObject({ code: 0, err: '' });
      const printed = JSON.parse(run.out) as { device_id: string; token: string };

      const userToken = (await readOperatorConfig(env['MARVAIN_CONFIG'] as string))?.user_token as string;
      const listed = await fetch(`${base}/v1/agents/${agentId}/devices`, {
        headers: { authorization: `Bearer ${userToken}` },
      });
      const devices = ((await listed.json()) as { devices: Array<Record<string, unknown>> }).devices;
      const remote = devices.filter((d) => d['is_remote'] === true).map((d) => d['name']);
      expect(remote.sort()).toEqual(['garage', 'kitchen', 'porch']);
      expect(devices.find((d) => d['device_id'] === printed.device_id)).toMatchObject({
        scopes: ['events:write', 'presence:write', 'actions:read'],
        metadata: { is_remote: true },
      });
      // Its token is a working device credential on the hub.
      const me = await fetch(`${base}/v1/me`, { headers: { authorization: `Bearer ${printed.token}` } });
      expect(await me.json()).toMatchObject({ type: 'device', id: printed.device_id });
    } finally {
      hub.kill('SIGTERM');
      await new Promise((resolve) => hub.once('exit', resolve));
    }
  });
});

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
