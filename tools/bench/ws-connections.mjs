#!/usr/bin/env node
// `npm run bench:ws-connections`: what one open WebSocket connection costs the local hub in resident
// memory. Builds and starts the hub bundle on a fresh embedded database (loopback only), opens
// BENCH_WS_CONNECTIONS connections (default 2000) that each complete `hello` with the first-run device
// token, and prints the hub's RSS growth per connection, as the median of BENCH_ROUNDS (default 3)
// fresh hubs. It backs the connection cap in libs/realtime/src/websocket-limits.ts.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { bundle } from '../build/bundle.mjs';

const CONNECTIONS = Number(process.env.BENCH_WS_CONNECTIONS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const hubBundle = await bundle('hub');

async function round() {
  const dir = mkdtempSync(path.join(tmpdir(), 'marvain-bench-ws-'));
  const child = spawn(process.execPath, [hubBundle], {
    env: {
      ...process.env,
      MARVAIN_DATA_DIR: path.join(dir, 'data'),
      MARVAIN_CONFIG: path.join(dir, 'config.yaml'),
      MARVAIN_HOST: '127.0.0.1',
      MARVAIN_PORT: '0',
      MARVAIN_LOG_LEVEL: 'warn',
      MARVAIN_WORKERS: 'false',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const sockets = [];
  try {
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) * 1024;
    let port = 0;
    for (let i = 0; i < 1200 && !port; i++) {
      await sleep(100);
      try {
        port = JSON.parse(readFileSync(path.join(dir, 'data', 'hub.lock'), 'utf8')).port;
      } catch {
        // not written yet
      }
    }
    if (!port) {
      throw new Error('the hub did not start within 120 s');
    }
    const token = /^device_token: (\S+)$/m.exec(readFileSync(path.join(dir, 'config.yaml'), 'utf8'))[1];
    const open = (n) =>
      Promise.all(
        Array.from(
          { length: n },
          () =>
            new Promise((resolve, reject) => {
              const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
              sockets.push(ws);
              ws.on('error', reject);
              ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', id: 'h', token })));
              ws.once('message', () => resolve());
            }),
        ),
      );
    await open(50); // first connections load what every later one shares
    await sleep(1000);
    const before = rss();
    await open(CONNECTIONS);
    await sleep(2000);
    return (rss() - before) / CONNECTIONS;
  } finally {
    for (const ws of sockets) {
      ws.terminate();
    }
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

const perConnection = [];
for (let i = 0; i < ROUNDS; i++) {
  perConnection.push(await round());
}
const sorted = [...perConnection].sort((a, b) => a - b);
const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
console.log(
  `${CONNECTIONS} helloed WebSocket connections, ${ROUNDS} fresh hubs: RSS per connection median ${kib(sorted[Math.floor(sorted.length / 2)])} (min ${kib(sorted[0])}, max ${kib(sorted[sorted.length - 1])})`,
);
