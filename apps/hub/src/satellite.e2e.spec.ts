import { execFileSync, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { OperatorConfig } from '@marvain/platform';
import type { BootstrapResult } from '@marvain/identity';
import { eventually, testHubConfig } from '@marvain/platform/testing';
import { LocalWebSocketServer } from '@marvain/realtime';
import { approvedDeviceCommand } from './testing/device-command-action';
import { HubSocket, type Reply } from './testing/hub-socket';
import { startHubProcess, type HubProcess } from './testing/hub-process';
import { openHubTestServer, type HubTestServer } from './testing/hub-test-server';

const ROOT = path.resolve(__dirname, '../../..');

// Two hub starts (bundle, embedded database, first-run bootstrap) and the daemon's reconnect backoff.
jest.setTimeout(240_000);

/** Builds the satellite's one file into a folder of its own, as `node tools/build/bundle.mjs satellite` does. */
function buildSatellite(outdir: string): string {
  const script = `import { bundle } from ${JSON.stringify(path.join(ROOT, 'tools/build/bundle.mjs'))}; await bundle('satellite', { outdir: ${JSON.stringify(outdir)} });`;
  execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, stdio: 'pipe' });
  return path.join(outdir, 'marvain-satellite.cjs');
}

/** The daemon as an operator runs it: `node marvain-satellite.cjs run --config FILE`, lines typed on its stdin. */
class SatelliteProcess {
  stderr = '';
  stdout = '';
  readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (chunk: Buffer) => (this.stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('utf8')));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static start(bundle: string, configFile: string, home: string): SatelliteProcess {
    const child = spawn(process.execPath, [bundle, 'run', '--config', configFile], {
      cwd: home,
      env: { PATH: process.env['PATH'], HOME: home },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new SatelliteProcess(child);
  }

  type(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** Waits until the log holds `pattern` `count` times. */
  async logged(pattern: RegExp, what: string, count = 1): Promise<void> {
    const global = new RegExp(pattern.source, 'g');
    await eventually(
      async () => ((this.stderr.match(global)?.length ?? 0) >= count ? true : undefined),
      `${what}; the satellite logged:\n${this.stderr}`,
      60_000,
    );
  }
}

describe('GET /v1/satellite/marvain-satellite.cjs on a hub without the build', () => {
  it('answers not_found, saying how to build it', async () => {
    const missing = path.join(tmpdir(), `marvain-no-satellite-${randomUUID()}.cjs`);
    const server = await openHubTestServer({ config: testHubConfig({ satelliteBundle: missing }) });
    try {
      const { status, json } = await server.call('GET', '/v1/satellite/marvain-satellite.cjs', null);
      expect(status).toBe(404);
      expect(json.error).toMatchObject({
        code: 'not_found',
        message: expect.stringContaining('tools/build/bundle.mjs satellite'),
      });
    } finally {
      await server.close();
    }
  });
});

describe('the satellite daemon against a real hub', () => {
  let dir: string;
  /** The build the hub serves. */
  let built: string;
  /** The copy downloaded from the hub, which the tests run, as an operator would. */
  let bundle: string;
  let hub: HubProcess;
  let home: string;
  let creds: OperatorConfig;
  let device: { device_id: string; token: string };
  let configFile: string;
  let satellite: SatelliteProcess;

  const call = async (method: string, route: string, body?: unknown): Promise<{ status: number; json: any }> => {
    const response = await fetch(`${hub.url}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${String(creds.user_token)}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, json: await response.json() };
  };
  const satelliteCli = (...args: string[]): { status: number | null; stdout: string; stderr: string } =>
    spawnSync(process.execPath, [bundle, ...args], { encoding: 'utf8', env: { PATH: process.env['PATH'], HOME: dir } });
  const status = (): Record<string, any> => JSON.parse(satelliteCli('status', '--config', configFile, '--json').stdout);
  /** Every transcript event on the agent's stream, read by its owner from the start. */
  const transcriptEvents = async (): Promise<Reply[]> => {
    const socket = await HubSocket.open(hub.url, creds.user_token);
    try {
      const subscribed = await socket.request({
        type: 'subscribe',
        agent_id: creds.agent_id,
        from_seq: 1,
      });
      expect(subscribed.type).toBe('subscribed');
      const lastSeq = subscribed['last_seq'] as number;
      await socket.next((m) => m.type === 'stream' && m['seq'] === lastSeq, `stream entries up to seq ${lastSeq}`);
      return socket.received.filter(
        (m) => m.type === 'stream' && m['topic'] === 'events.new' && m['data']['type'] === 'transcript_chunk',
      );
    } finally {
      socket.terminate();
    }
  };
  const memoryFor = (text: string) =>
    eventually(
      async () => {
        const { json } = await call('GET', `/v1/memories?agent_id=${String(creds.agent_id)}`);
        return (json.memories as Array<Record<string, unknown>>).find((m) => m['content'] === text);
      },
      `a memory of "${text}"`,
      60_000,
    );

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'marvain-satellite-e2e-'));
    built = buildSatellite(path.join(ROOT, 'dist', 'test-satellite', `${process.pid}-${randomUUID().slice(0, 8)}`));
    bundle = path.join(dir, 'marvain-satellite.cjs');
    // The hub's own embedded database, whatever DATABASE_URL says.
    hub = await startHubProcess({ env: { MARVAIN_SATELLITE_BUNDLE: built } });
    home = hub.home;
    creds = await hub.credentials();
    const registered = await call('POST', `/v1/agents/${String(creds.agent_id)}/devices`, {
      name: 'kitchen satellite',
      metadata: { is_remote: true },
      // events:read besides the defaults: the satellite prints the agent's replies in its space.
      scopes: ['events:write', 'presence:write', 'actions:read', 'events:read'],
    });
    expect(registered.status).toBe(201);
    device = { device_id: registered.json.device.device_id, token: registered.json.token };
    configFile = path.join(dir, 'config', 'marvain', 'satellite.json');
  }, 240_000);

  afterAll(async () => {
    satellite.child.kill('SIGKILL');
    await hub.stop();
    rmSync(home, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    rmSync(path.dirname(built), { recursive: true, force: true });
  });

  it('is served by the hub, one cacheable file', async () => {
    const response = await fetch(`${hub.url}/v1/satellite/marvain-satellite.cjs`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/javascript/);
    expect(response.headers.get('cache-control')).toMatch(/public/);
    const body = Buffer.from(await response.arrayBuffer());
    expect(body.equals(readFileSync(built))).toBe(true);
    expect(body.subarray(0, 19).toString()).toBe('#!/usr/bin/env node');
    writeFileSync(bundle, body);

    const again = await fetch(`${hub.url}/v1/satellite/marvain-satellite.cjs`, {
      headers: { 'if-none-match': String(response.headers.get('etag')) },
    });
    expect(again.status).toBe(304);
  });

  it('init writes a private config; run connects, says hello and turns the device online in its space', async () => {
    const init = satelliteCli(
      'init',
      '--hub-url',
      hub.url,
      '--token',
      device.token,
      '--space-id',
      String(creds.space_id),
      '--config',
      configFile,
    );
    expect(init.stderr).toBe('');
    expect(init.status).toBe(0);
    expect(statSync(configFile).mode & 0o777).toBe(0o600);
    // The operator lists the local commands the hub may run.
    const config = JSON.parse(readFileSync(configFile, 'utf8'));
    config.commands = { greet: { argv: [process.execPath, '-e', 'console.log("hello from the satellite")'] } };
    writeFileSync(configFile, JSON.stringify(config), { mode: 0o600 });

    satellite = SatelliteProcess.start(bundle, configFile, dir);
    await satellite.logged(new RegExp(`hello ok as device ${device.device_id}`), 'hello_ok');
    const presence = await eventually(
      async () => {
        const { json } = await call('GET', `/v1/spaces/${String(creds.space_id)}/presence`);
        return (json.presence as Array<Record<string, unknown>>).find(
          (row) => row['subject_id'] === device.device_id && row['status'] === 'online',
        );
      },
      'the satellite online in its space',
      30_000,
    );
    expect(presence).toMatchObject({ subject_type: 'device', space_id: creds.space_id });
    await satellite.logged(/subscribed to agent/, 'the subscription');
    expect(status()).toMatchObject({ running: true, connected: true, device_id: device.device_id, outbox: 0 });
  });

  it('turns a line typed on stdin into a transcript event, which the planner remembers', async () => {
    satellite.type('the spare key is under the blue pot');
    const memory = await memoryFor('the spare key is under the blue pot');
    expect(memory).toMatchObject({ tier: 'episodic' });
    await satellite.logged(/outbox: line \S+ sent as event/, 'the ack');
    expect(status()['outbox']).toBe(0);
  });

  it('prints the agent’s replies in its space: the whole loop from a terminal', async () => {
    satellite.type('tell Sam the parcel is on the porch');
    const proposed = await eventually(
      async () => {
        const { json } = await call('GET', `/v1/actions?agent_id=${String(creds.agent_id)}&status=proposed`);
        return (json.actions as Array<Record<string, any>>).find(
          (a) => a['payload']?.text === 'the parcel is on the porch',
        );
      },
      'the proposed send_message',
      60_000,
    );
    expect((await call('POST', `/v1/actions/${String(proposed['action_id'])}/approve`)).status).toBe(200);
    await eventually(
      async () => (satellite.stdout.includes('the parcel is on the porch\n') ? true : undefined),
      `the reply on the satellite's stdout; it logged:\n${satellite.stderr}`,
      60_000,
    );
    expect(satellite.stdout).toBe('the parcel is on the porch\n');
  });

  it('queues lines while the hub is down, reconnects when it is back, and sends them once', async () => {
    const port = hub.port;
    await hub.kill('SIGTERM');
    await satellite.logged(/disconnected \(/, 'the disconnect');
    satellite.type('water the basil on friday');
    satellite.type('the plumber comes at nine');
    await satellite.logged(/line queued as .*sent once the hub is back/, 'two queued lines', 2);
    expect(status()).toMatchObject({ running: true, connected: false, outbox: 2 });

    hub = await startHubProcess({ home, env: { MARVAIN_PORT: String(port), MARVAIN_SATELLITE_BUNDLE: built } });
    await satellite.logged(new RegExp(`hello ok as device ${device.device_id}`), 'a second hello_ok', 2);
    await memoryFor('water the basil on friday');
    await memoryFor('the plumber comes at nine');
    await satellite.logged(/outbox: line \S+ sent as event/, 'four acks', 4);
    expect(status()).toMatchObject({ connected: true, outbox: 0 });

    const texts = (await transcriptEvents()).map((entry) => entry['data'].payload.text);
    expect(texts.filter((t) => t === 'water the basil on friday')).toHaveLength(1);
    expect(texts.filter((t) => t === 'the plumber comes at nine')).toHaveLength(1);
    expect(texts.filter((t) => t === 'the spare key is under the blue pot')).toHaveLength(1);
    // It resumed its subscription after the last seq it had seen, rather than from now.
    expect(satellite.stderr).toMatch(/subscribed to agent \S+ \(.*\) from seq \d+/);
  });

  it('stops with a clear message and exit code 2 once the device is revoked', async () => {
    const revoked = await call('POST', `/v1/devices/${device.device_id}/revoke`);
    expect(revoked.status).toBe(200);
    expect(await satellite.exited).toBe(2);
    expect(satellite.stderr).toContain(
      "the hub refused this device's token: it was revoked or rotated; run init again with a new token",
    );
    // It stopped retrying: nothing after the refusal.
    expect(satellite.stderr.slice(satellite.stderr.indexOf("the hub refused this device's token"))).not.toContain(
      'connecting to',
    );
    expect(status()).toMatchObject({ running: false, connected: false });
  });
});

describe('the satellite daemon running the hub’s commands', () => {
  let dir: string;
  let built: string;
  let hub: HubTestServer;
  let home: BootstrapResult;
  let device: { device_id: string; token: string };
  let configFile: string;
  let satellite: SatelliteProcess;
  let marks: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'marvain-satellite-commands-'));
    built = buildSatellite(path.join(ROOT, 'dist', 'test-satellite', `${process.pid}-${randomUUID().slice(0, 8)}`));
    hub = await openHubTestServer({
      // Workers on: an approved action reaches the tool runner through the queue, as it does in use.
      config: testHubConfig({
        workers: true,
        queue: { visibilityTimeoutSeconds: 30, maxReceives: 5, pollIntervalMs: 50 },
      }),
      beforeListen: (app) => app.get(LocalWebSocketServer).attach(app.getHttpServer()),
    });
    home = await hub.bootstrap();
    const registered = await hub.call('POST', `/v1/agents/${home.agent_id}/devices`, home.user_token, {
      name: 'shed satellite',
      metadata: { is_remote: true },
    });
    device = { device_id: registered.json.device.device_id, token: registered.json.token };
    configFile = path.join(dir, 'satellite.json');
    const init = spawnSync(
      process.execPath,
      [
        built,
        'init',
        '--hub-url',
        hub.base,
        '--token',
        device.token,
        '--space-id',
        home.space_id,
        '--config',
        configFile,
      ],
      { encoding: 'utf8' },
    );
    expect(init.status).toBe(0);
    const config = JSON.parse(readFileSync(configFile, 'utf8'));
    marks = path.join(dir, 'slow-runs.txt');
    config.commands = {
      greet: { argv: [process.execPath, '-e', 'console.log("hello from the shed")'] },
      // Notes each run (its pid), then takes its time.
      slow: {
        argv: [
          process.execPath,
          '-e',
          `require('fs').appendFileSync(${JSON.stringify(marks)}, process.pid + '\\n'); setTimeout(() => {}, 120000)`,
        ],
        timeout_ms: 300_000,
      },
    };
    writeFileSync(configFile, JSON.stringify(config), { mode: 0o600 });
    satellite = SatelliteProcess.start(built, configFile, dir);
    await satellite.logged(new RegExp(`hello ok as device ${device.device_id}`), 'hello_ok');
  }, 240_000);

  afterAll(async () => {
    satellite.child.kill('SIGTERM');
    await satellite.exited;
    await hub.app.get(LocalWebSocketServer).close();
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(path.dirname(built), { recursive: true, force: true });
  });

  const approvedAction = (payload: Record<string, unknown>): Promise<string> =>
    approvedDeviceCommand(hub, home, payload, 'check on the shed');
  const settled = (actionId: string) =>
    eventually(
      async () => {
        const { json } = await hub.call('GET', `/v1/actions/${actionId}`, home.user_token);
        return ['executed', 'failed'].includes(json.status) ? json : undefined;
      },
      `action ${actionId} to end; the satellite logged:\n${satellite.stderr}`,
      60_000,
    );

  it('an approved device_command runs a listed local command and the action ends executed with its output', async () => {
    const actionId = await approvedAction({
      device_id: device.device_id,
      command: 'run_action',
      args: { name: 'greet' },
    });
    const action = await settled(actionId);
    expect(action).toMatchObject({
      status: 'executed',
      result: { result: { exit_code: 0, stdout: 'hello from the shed\n', stderr: '', truncated: false } },
    });
    expect(satellite.stderr).toMatch(/command \S+ received: run_action "greet"/);
  });

  it('a command its operator did not list is refused, and the action ends failed (command_not_allowed)', async () => {
    const actionId = await approvedAction({
      device_id: device.device_id,
      command: 'run_action',
      args: { name: 'reboot' },
    });
    const action = await settled(actionId);
    expect(action.status).toBe('failed');
    expect(action.error).toMatch(/^command_not_allowed: /);
  });

  it('answers ping, and applies cmd.config to its config file, refusing the token', async () => {
    const send = async (body: Record<string, unknown>) => {
      const created = await hub.call('POST', `/v1/devices/${device.device_id}/commands`, home.user_token, body);
      expect(created.status).toBe(201);
      return eventually(
        async () => {
          const { json } = await hub.call(
            'GET',
            `/v1/devices/${device.device_id}/commands/${created.json.command_id}`,
            home.user_token,
          );
          return ['succeeded', 'failed'].includes(json.status) ? json : undefined;
        },
        `the result of ${String(body['kind'])}`,
        30_000,
      );
    };
    expect(await send({ kind: 'ping' })).toMatchObject({ status: 'succeeded', result: { pong: true } });

    const refused = await send({ kind: 'config', args: { settings: { token: 'mvd_stolen', verbose: true } } });
    expect(refused).toMatchObject({ status: 'failed', error: { code: 'invalid_command' } });
    expect(JSON.parse(readFileSync(configFile, 'utf8'))).toMatchObject({
      token: device.token,
      settings: { verbose: false },
    });

    const applied = await send({
      kind: 'config',
      args: { settings: { print_replies: false, capabilities: { camera: false } } },
    });
    expect(applied).toMatchObject({ status: 'succeeded', result: { settings: { print_replies: false } } });
    const written = JSON.parse(readFileSync(configFile, 'utf8'));
    expect(written).toMatchObject({
      token: device.token,
      capabilities: { camera: false },
      settings: { print_replies: false },
    });
    expect(statSync(configFile).mode & 0o777).toBe(0o600);
  });

  it('never runs a command twice: killed mid-run, it answers the redelivery without running it again', async () => {
    const created = await hub.call('POST', `/v1/devices/${device.device_id}/commands`, home.user_token, {
      kind: 'run_action',
      args: { name: 'slow' },
    });
    expect(created.status).toBe(201);
    const commandId: string = created.json.command_id;
    const runs = (): string[] => (existsSync(marks) ? readFileSync(marks, 'utf8').trim().split('\n') : []);
    await eventually(async () => (runs().length > 0 ? true : undefined), 'the slow command to start', 30_000);

    satellite.child.kill('SIGKILL');
    await satellite.exited;
    // The hub redelivers the command (sent, no result) at the next hello.
    satellite = SatelliteProcess.start(built, configFile, dir);
    const ended = await eventually(
      async () => {
        const { json } = await hub.call(
          'GET',
          `/v1/devices/${device.device_id}/commands/${commandId}`,
          home.user_token,
        );
        return json.status === 'sent' || json.status === 'queued' ? undefined : json;
      },
      `the redelivered command's result; the satellite logged:\n${satellite.stderr}`,
      60_000,
    );
    expect(ended).toMatchObject({
      status: 'failed',
      error: { code: 'command_failed', message: expect.stringContaining('not run again') },
    });
    expect(runs()).toHaveLength(1);
    process.kill(Number(runs()[0]), 'SIGKILL');
  });
});
