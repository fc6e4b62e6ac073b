import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { lockFileIn, readLiveLock, readOperatorConfig } from '@marvain/platform';

// Real hub processes on an embedded database: seconds each.
jest.setTimeout(120_000);

const root = path.resolve(__dirname, '..', '..', '..', '..');

interface HubProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

function startHub(env: NodeJS.ProcessEnv): HubProcess {
  const inherited = { ...process.env };
  delete inherited['DATABASE_URL'];
  const child = spawn(process.execPath, [path.join(root, 'dist/hub/main.cjs')], {
    env: { ...inherited, MARVAIN_LOG_LEVEL: 'warn', MARVAIN_WORKERS: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Polls until the condition holds (the jest timeout bounds it). */
async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await condition())) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Reads one HTTP response (Content-Length bodies only) from a raw socket. */
function readResponse(socket: Socket): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString();
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) {
        return;
      }
      const [statusLine = '', ...lines] = buffer.slice(0, end).split('\r\n');
      const headers = Object.fromEntries(
        lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
      );
      const length = Number(headers['content-length'] ?? 0);
      if (buffer.length - end - 4 < length) {
        return;
      }
      socket.off('data', onData);
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: buffer.slice(end + 4, end + 4 + length) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve())));
}

describe('the local hub process', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const hubs: HubProcess[] = [];

  beforeAll(() => {
    execFileSync(process.execPath, [path.join(root, 'tools/build/bundle.mjs'), 'hub'], { cwd: root, stdio: 'ignore' });
  });
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'marvain-hub-'));
    env = { MARVAIN_DATA_DIR: path.join(dir, 'data'), MARVAIN_CONFIG: path.join(dir, 'config', 'marvain-config.yaml') };
  });
  afterEach(async () => {
    for (const hub of hubs.splice(0)) {
      if (hub.child.exitCode === null) {
        hub.child.kill('SIGKILL');
      }
      await hub.exited;
    }
    await rm(dir, { recursive: true, force: true });
  });
  const run = (extra: NodeJS.ProcessEnv = {}): HubProcess => {
    const hub = startHub({ ...env, ...extra });
    hubs.push(hub);
    return hub;
  };

  it('saves the first-run credentials before the port answers', async () => {
    const port = await freePort();
    const hub = run({ MARVAIN_PORT: String(port) });
    // Served, not merely connectable: start-up binds the port for a moment to check it is free.
    await until(
      async () =>
        (await fetch(`http://127.0.0.1:${port}/v1/health`).catch(() => null)) !== null || hub.child.exitCode !== null,
    );
    // At the first moment the port answers, the credentials are already saved.
    const saved = await readOperatorConfig(env['MARVAIN_CONFIG'] as string);
    expect(saved).toMatchObject({
      agent_id: expect.any(String),
      device_token: expect.stringMatching(/^mvd_/),
      hub_url: `http://127.0.0.1:${port}`,
    });
  });

  it('keeps stdout to JSON log lines when it is not a terminal: the banner goes to stderr', async () => {
    const hub = run({ MARVAIN_PORT: '0', MARVAIN_LOG_LEVEL: 'info' });
    await until(() => hub.stderr().includes('Marvain hub listening on') || hub.child.exitCode !== null);
    expect(hub.stderr()).toContain('First start: created agent');
    const lines = hub
      .stdout()
      .split('\n')
      .filter((line) => line.trim() !== '');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(() => JSON.parse(line) as unknown).not.toThrow();
    }
  });

  it('on SIGTERM answers the request in flight, closes every connection, loses nothing and exits 0', async () => {
    const port = await freePort();
    const hub = run({ MARVAIN_PORT: String(port) });
    await until(async () => (await fetch(`http://127.0.0.1:${port}/v1/health`).catch(() => null))?.ok === true);
    const saved = await readOperatorConfig(env['MARVAIN_CONFIG'] as string);

    // A keep-alive client that has a request in flight (its body half sent) when SIGTERM arrives,
    // an idle keep-alive client and a WebSocket client.
    const busy = connect(port);
    busy.write('GET /v1/health HTTP/1.1\r\nHost: hub\r\n\r\n');
    expect((await readResponse(busy)).headers['connection']).toBe('keep-alive');
    const body = JSON.stringify({
      space_id: saved?.space_id,
      type: 'note',
      payload: { text: 'in flight at SIGTERM' },
      client_event_id: 'sigterm-1',
    });
    busy.write(
      `POST /v1/events HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer ${saved?.device_token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`,
    );
    const idle = connect(port);
    idle.write('GET /v1/health HTTP/1.1\r\nHost: hub\r\n\r\n');
    await readResponse(idle);
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
    await new Promise((resolve) => ws.once('open', resolve));
    const wsClosed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    // A WebSocket client that never answers the close handshake.
    const mute = connect(port, '127.0.0.1');
    mute.write(
      'GET /v1/ws HTTP/1.1\r\nHost: hub\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await new Promise((resolve) => mute.once('data', resolve));

    hub.child.kill('SIGTERM');
    await until(() => hub.stderr().includes('SIGTERM, shutting down'));
    await closed(idle);
    expect(await wsClosed).toBe(1001);
    expect(await answers(port)).toBe(false);

    // The request in flight is answered, then its connection is closed.
    const answer = readResponse(busy);
    busy.write(body.slice(10));
    const response = await answer;
    expect(response.status).toBe(202);
    expect(response.headers['connection']).toBe('close');
    const stored = JSON.parse(response.body) as { event_id: string };
    await closed(busy);
    await closed(mute);
    // 0: stopped within the bound (past it the hub exits 1).
    expect(await hub.exited).toBe(0);
    expect(existsSync(lockFileIn(env['MARVAIN_DATA_DIR'] as string))).toBe(false);

    // What was acknowledged is there after a restart.
    // On a port of its own choosing: the old one may have been taken by another process meanwhile.
    const again = run({ MARVAIN_PORT: '0' });
    let againPort = 0;
    await until(async () => {
      againPort = (await readLiveLock(env['MARVAIN_DATA_DIR'] as string))?.port ?? 0;
      return (againPort > 0 && (await answers(againPort))) || again.child.exitCode !== null;
    });
    if (again.child.exitCode !== null) {
      throw new Error(`the restarted hub exited with ${again.child.exitCode}: ${again.stderr()}`);
    }
    const repeat = await fetch(`http://127.0.0.1:${againPort}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${saved?.device_token}`, 'content-type': 'application/json' },
      body,
    });
    expect(await repeat.json()).toMatchObject({ event_id: stored.event_id, duplicate: true });
    again.child.kill('SIGINT');
    expect(await again.exited).toBe(0);
  });

  it('lists every problem of the environment and the config file at once, naming the file (exit 2)', async () => {
    const file = env['MARVAIN_CONFIG'] as string;
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, 'hub_url: ftp://example.com\nagent_id: not-a-uuid\nagents: [1]\n', { mode: 0o600 });
    const hub = run({ MARVAIN_PORT: 'eighty' });
    expect(await hub.exited).toBe(2);
    const err = hub.stderr();
    expect(err).toContain('MARVAIN_PORT must be a whole number');
    expect(err).toContain(`${file}: agent_id must be a UUID (got "not-a-uuid")`);
    expect(err).toContain(`${file}: hub_url must be an http:// or https:// URL`);
    expect(err).toContain(`${file}: agents must be a mapping`);
    expect(existsSync(env['MARVAIN_DATA_DIR'] as string)).toBe(false);
  });

  it('names MARVAIN_PORT when the port is taken, makes open data and audit folders and config file private, and leaves no lock (exit 1)', async () => {
    const data = env['MARVAIN_DATA_DIR'] as string;
    await mkdir(data, { recursive: true });
    await chmod(data, 0o755);
    const audit = path.join(dir, 'audit');
    await mkdir(audit, { mode: 0o750 });
    await chmod(audit, 0o750);
    const file = env['MARVAIN_CONFIG'] as string;
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, 'hub_url: http://127.0.0.1:8080\n');
    await chmod(file, 0o644);
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const hub = run({ MARVAIN_PORT: String(port), MARVAIN_AUDIT_DIR: audit });
      expect(await hub.exited).toBe(1);
      expect(hub.stderr()).toContain(`MARVAIN_PORT: port ${port} on 127.0.0.1 is already in use`);
      expect(hub.stdout()).toContain(
        `the folder ${data} could be read by other users (mode 0755); made it private (mode 0700)`,
      );
      expect(statSync(data).mode & 0o777).toBe(0o700);
      expect(statSync(audit).mode & 0o777).toBe(0o700);
      expect(hub.stdout()).toContain(
        `the file ${file} could be read by other users (mode 0644); made it private (mode 0600)`,
      );
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(existsSync(lockFileIn(data))).toBe(false);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('leaves no lock when the database cannot be opened, and names DATABASE_URL when it cannot be reached', async () => {
    const data = env['MARVAIN_DATA_DIR'] as string;
    await mkdir(data, { recursive: true, mode: 0o700 });
    await writeFile(path.join(dir, 'not-a-folder'), 'x', { mode: 0o600 });
    const broken = run({ MARVAIN_PORT: '0', MARVAIN_PGLITE_DIR: path.join(dir, 'not-a-folder') });
    expect(await broken.exited).toBe(1);
    expect(existsSync(lockFileIn(data))).toBe(false);

    const unreachable = run({ MARVAIN_PORT: '0', DATABASE_URL: 'postgres://marvain:secret@127.0.0.1:1/marvain' });
    expect(await unreachable.exited).toBe(1);
    expect(unreachable.stderr()).toContain('DATABASE_URL: cannot connect to 127.0.0.1:1/marvain');
    expect(unreachable.stderr()).not.toContain('secret');
  });
});
