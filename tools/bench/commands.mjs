#!/usr/bin/env node
// `npm run bench:commands`: command round trip on the local hub with real satellite daemons. A
// fresh hub bundle starts on an embedded database; BENCH_DAEMONS (default 100) devices are
// registered and one built `marvain-satellite` process runs per device. The operator subscribes to
// `commands.updated`; then BENCH_ROUNDS (default 5) rounds each send one `ping` command to every
// daemon over REST, BENCH_RATE (default 50) commands per second. A round trip runs from the start of
// the POST to the `commands.updated` entry saying the command succeeded (hub → daemon → `cmd.result`
// → hub → stream → operator). The baseline, measured in the same run and the same processes: a
// WebSocket `ping` → `pong` on the operator's connection and a GET /v1/health, at the same rate.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { bundle } from '../build/bundle.mjs';
import { percentile, request, sleep, startLocalHub } from './local-hub.mjs';

const DAEMONS = Number(process.env.BENCH_DAEMONS ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const RATE = Number(process.env.BENCH_RATE ?? 50);

function run(file, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${args[0]} exited ${code}: ${err}`))));
  });
}

async function operatorSocket(port, token, agentId, onEntry) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
  await new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', resolve);
  });
  const pending = new Map();
  ws.on('message', (raw) => {
    const message = JSON.parse(raw.toString());
    if (message.type === 'stream') {
      onEntry(message);
    } else if (message.id && pending.has(message.id)) {
      pending.get(message.id)(message);
      pending.delete(message.id);
    }
  });
  let n = 0;
  const reply = (frame) =>
    new Promise((resolve) => {
      const id = `r${n++}`;
      pending.set(id, resolve);
      ws.send(JSON.stringify({ ...frame, id }));
    });
  const hello = await reply({ type: 'hello', token });
  if (hello.type !== 'hello_ok') {
    throw new Error(`hello answered ${JSON.stringify(hello)}`);
  }
  const subscribed = await reply({ type: 'subscribe', agent_id: agentId, topics: ['commands.updated'] });
  if (subscribed.type !== 'subscribed') {
    throw new Error(`subscribe answered ${JSON.stringify(subscribed)}`);
  }
  return { ws, reply };
}

/** Runs `task(i)` for i < count at a steady `RATE` per second; resolves with every latency in ms. */
async function paced(count, task) {
  const start = performance.now();
  const runs = [];
  for (let i = 0; i < count; i++) {
    const wait = start + (i * 1000) / RATE - performance.now();
    if (wait > 0) {
      await sleep(wait);
    }
    runs.push(task(i));
  }
  return Promise.all(runs);
}

const stats = (values) => {
  const ms = (v) => `${v.toFixed(1)} ms`;
  return `p50 ${ms(percentile(values, 50))}, p99 ${ms(percentile(values, 99))}`;
};

const satellite = await bundle('satellite');
const hub = await startLocalHub();
const dir = mkdtempSync(path.join(tmpdir(), 'marvain-bench-satellites-'));
const daemons = [];
let operator;
try {
  const { agent_id: agentId, space_id: spaceId, user_token: owner } = hub.credentials;
  const devices = [];
  for (let i = 0; i < DAEMONS; i++) {
    const reply = await request(hub.port, 'POST', `/v1/agents/${agentId}/devices`, owner, {
      name: `bench satellite ${i}`,
      metadata: { is_remote: true },
    });
    if (reply.status !== 201) {
      throw new Error(`registering a device answered ${reply.status}: ${JSON.stringify(reply.json)}`);
    }
    devices.push(reply.json);
  }
  const env = { ...process.env, XDG_CONFIG_HOME: dir, XDG_STATE_HOME: dir };
  const hubUrl = `http://127.0.0.1:${hub.port}`;
  await Promise.all(
    devices.map((device, i) =>
      run(
        satellite,
        [
          'init',
          '--hub-url',
          hubUrl,
          '--token',
          device.token,
          '--space-id',
          spaceId,
          '--config',
          path.join(dir, `s${i}.json`),
        ],
        env,
      ),
    ),
  );
  for (let i = 0; i < DAEMONS; i++) {
    const child = spawn(process.execPath, [satellite, 'run', '--no-stdin', '--config', path.join(dir, `s${i}.json`)], {
      env,
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    daemons.push(child);
  }
  // Every daemon online: its presence says so.
  for (let tries = 0; ; tries++) {
    const reply = await request(hub.port, 'GET', `/v1/agents/${agentId}/presence`, owner);
    const online = (reply.json?.items ?? reply.json?.presence ?? []).filter(
      (p) => p.subject_type === 'device' && p.status === 'online',
    ).length;
    if (online >= DAEMONS) {
      break;
    }
    if (tries % 50 === 0) {
      console.error(`${online} of ${DAEMONS} daemons online`);
    }
    if (tries > 600) {
      throw new Error(`only ${online} of ${DAEMONS} daemons came online`);
    }
    await sleep(100);
  }

  const finished = new Map();
  const early = new Map();
  operator = await operatorSocket(hub.port, owner, agentId, (entry) => {
    const command = entry.data;
    if (entry.topic === 'commands.updated' && (command.status === 'succeeded' || command.status === 'failed')) {
      const waiter = finished.get(command.command_id);
      if (waiter) {
        finished.delete(command.command_id);
        waiter(command);
      } else {
        early.set(command.command_id, command);
      }
    }
  });

  const roundTrips = [];
  const wsPings = [];
  const healths = [];
  let failed = 0;
  for (let round = 0; round < ROUNDS; round++) {
    roundTrips.push(
      ...(await paced(DAEMONS, async (i) => {
        const started = performance.now();
        let resolveDone;
        const done = new Promise((resolve) => (resolveDone = resolve));
        const reply = await request(hub.port, 'POST', `/v1/devices/${devices[i].device.device_id}/commands`, owner, {
          kind: 'ping',
          ttl_seconds: 60,
        });
        if (reply.status !== 201) {
          throw new Error(`POST command answered ${reply.status}: ${JSON.stringify(reply.json)}`);
        }
        // The result may come back before the POST's reply does: entries wait in `early`.
        const id = reply.json.command_id;
        if (early.has(id)) {
          resolveDone(early.get(id));
          early.delete(id);
        } else {
          finished.set(id, resolveDone);
        }
        const command = await done;
        if (command.status !== 'succeeded') {
          failed++;
        }
        return performance.now() - started;
      })),
    );
    wsPings.push(
      ...(await paced(DAEMONS, async () => {
        const started = performance.now();
        await operator.reply({ type: 'ping' });
        return performance.now() - started;
      })),
    );
    healths.push(
      ...(await paced(DAEMONS, async () => {
        const started = performance.now();
        await request(hub.port, 'GET', '/v1/health');
        return performance.now() - started;
      })),
    );
  }
  const p50 = (values) => percentile(values, 50);
  console.log(
    `${DAEMONS} daemons, ${ROUNDS} rounds at ${RATE} commands/s: ${roundTrips.length} commands, ${failed} failed`,
  );
  console.log(`  command round trip (POST → device → result on the stream): ${stats(roundTrips)}`);
  console.log(`  baseline WebSocket ping → pong:                            ${stats(wsPings)}`);
  console.log(`  baseline GET /v1/health:                                   ${stats(healths)}`);
  console.log(
    `  round trip / ws ping p50 ${(p50(roundTrips) / p50(wsPings)).toFixed(1)}×, / health p50 ${(p50(roundTrips) / p50(healths)).toFixed(1)}×`,
  );
} finally {
  operator?.ws.terminate();
  for (const child of daemons) {
    child.kill('SIGKILL');
  }
  hub.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
