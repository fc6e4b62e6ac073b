#!/usr/bin/env node
// `npm run bench:ws-soak`: BENCH_SATELLITES (default 200) satellites hold WebSocket connections to a
// fresh local hub (bundle, embedded database) for BENCH_SECONDS (default 60). Each sends an event
// (`send_event`, with a client_event_id) every BENCH_EVENT_MS (default 1000) and a `heartbeat` with
// its space every BENCH_HEARTBEAT_MS (default 5000); an observer (the owner) subscribes to
// events.new. Printed: events acknowledged, stored events the observer received (lost = acked and
// never streamed), error replies and unexpected closes (both must be 0), and the hub's RSS after
// the warm-up (the first BENCH_WARMUP_S, default 10 s) and at the end, with the change in percent
// (the aim: within 10 %).
import WebSocket from 'ws';
import { registerDevices, sleep, startLocalHub } from './local-hub.mjs';

const SATELLITES = Number(process.env.BENCH_SATELLITES ?? 200);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const EVENT_MS = Number(process.env.BENCH_EVENT_MS ?? 1000);
const HEARTBEAT_MS = Number(process.env.BENCH_HEARTBEAT_MS ?? 5000);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 10);

const counts = { acked: 0, errors: 0, closes: 0, streamed: new Set(), acks: new Set() };
const errorSamples = [];

function connect(port, token, onMessage) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
    ws.once('error', reject);
    ws.on('message', (raw) => {
      const message = JSON.parse(raw.toString());
      if (message.type === 'error' || message.type === 'resync_required') {
        counts.errors++;
        if (errorSamples.length < 5) {
          errorSamples.push(message);
        }
      }
      onMessage(message, ws);
    });
    ws.on('close', (code) => {
      if (!ws.expectedClose) {
        counts.closes++;
        if (errorSamples.length < 5) {
          errorSamples.push({ close: code });
        }
      }
    });
    ws.once('open', () => {
      ws.send(JSON.stringify({ type: 'hello', id: 'hello', token }));
      resolve(ws);
    });
  });
}

const hub = await startLocalHub();
const sockets = [];
const timers = [];
try {
  const { agent_id: agentId, space_id: spaceId, user_token: owner } = hub.credentials;
  const tokens = await registerDevices(hub.port, owner, agentId, SATELLITES, [
    'events:write',
    'presence:write',
    'actions:read',
  ]);
  const observer = await connect(hub.port, owner, (message, ws) => {
    if (message.type === 'hello_ok') {
      ws.send(JSON.stringify({ type: 'subscribe', id: 'sub', agent_id: agentId, topics: ['events.new'] }));
    } else if (message.type === 'stream') {
      counts.streamed.add(message.data.event_id);
    }
  });
  sockets.push(observer);
  await sleep(500);
  for (let s = 0; s < SATELLITES; s++) {
    let n = 0;
    const ws = await connect(hub.port, tokens[s], (message) => {
      if (message.type === 'event_ack' && message.stored) {
        counts.acked++;
        counts.acks.add(message.event_id);
      }
    });
    sockets.push(ws);
    // Spread the satellites over the interval, as real ones are.
    const offset = Math.floor((s / SATELLITES) * EVENT_MS);
    timers.push(
      setTimeout(() => {
        timers.push(
          setInterval(() => {
            ws.send(
              JSON.stringify({
                type: 'send_event',
                id: `e${n}`,
                event: { space_id: spaceId, type: 'sensor.reading', payload: { n }, client_event_id: `s${s}-${n}` },
              }),
            );
            n++;
          }, EVENT_MS),
        );
        timers.push(
          setInterval(
            () => ws.send(JSON.stringify({ type: 'heartbeat', id: 'hb', space_id: spaceId, status: 'online' })),
            HEARTBEAT_MS,
          ),
        );
      }, offset),
    );
  }
  await sleep(WARMUP_S * 1000);
  const warm = hub.rss();
  await sleep((SECONDS - WARMUP_S) * 1000);
  for (const timer of timers) {
    clearInterval(timer);
    clearTimeout(timer);
  }
  await sleep(3000); // the last acks and stream messages
  const end = hub.rss();
  const lost = [...counts.acks].filter((id) => !counts.streamed.has(id)).length;
  const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  console.log(
    `${SATELLITES} satellites × ${SECONDS} s: ${counts.acked} events acknowledged, ${counts.streamed.size} streamed ` +
      `to the observer, lost ${lost}, errors ${counts.errors}, unexpected closes ${counts.closes}; ` +
      `hub RSS after warm-up ${mib(warm)}, at the end ${mib(end)} (${(((end - warm) / warm) * 100).toFixed(1)} %)`,
  );
  if (errorSamples.length > 0) {
    console.log('first problems:', JSON.stringify(errorSamples));
  }
} finally {
  for (const ws of sockets) {
    ws.expectedClose = true;
    ws.terminate();
  }
  hub.stop();
}
process.exit(0);
