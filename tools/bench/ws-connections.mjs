#!/usr/bin/env node
// `npm run bench:ws-connections`: what one open WebSocket connection costs the local hub in resident
// memory. Builds and starts the hub bundle on a fresh embedded database (loopback only), opens
// BENCH_WS_CONNECTIONS connections (default 2000) that each complete `hello` with a device token of
// its own, and prints the hub's RSS growth per connection, as the median of BENCH_ROUNDS (default 3)
// fresh hubs. It backs the connection cap in libs/realtime/src/websocket-limits.ts.
import WebSocket from 'ws';
import { registerDevices, sleep, startLocalHub } from './local-hub.mjs';

const CONNECTIONS = Number(process.env.BENCH_WS_CONNECTIONS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function round() {
  const hub = await startLocalHub();
  const sockets = [];
  try {
    const { port, rss } = hub;
    // One device per connection: the hub caps connections per principal.
    const { agent_id: agentId, user_token: owner } = hub.credentials;
    const tokens = await registerDevices(port, owner, agentId, CONNECTIONS + 50, ['events:write']);
    const open = (n) =>
      Promise.all(
        Array.from(
          { length: n },
          () =>
            new Promise((resolve, reject) => {
              const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
              sockets.push(ws);
              ws.on('error', reject);
              ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', id: 'h', token: tokens.pop() })));
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
    hub.stop();
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
