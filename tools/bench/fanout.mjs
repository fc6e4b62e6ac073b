#!/usr/bin/env node
// `npm run bench:fanout`: ingest→delivery latency of the realtime plane on the local hub. For each
// tier of BENCH_CLIENTS (default 100,1000) a fresh hub bundle starts on an embedded database; that
// many satellites (devices with events:read, one principal each) connect, `hello` and `subscribe`
// to events.new; then events are posted over HTTP at a steady BENCH_RATE per second (default 10)
// for BENCH_SECONDS (default 10). Each delivery's latency runs from the start of its POST to its
// arrival at the subscriber, in this process (so it includes this process's own queueing: the
// clients share its two cores with the hub). Printed per tier: deliveries expected and received,
// lost, duplicated or out of order, and latency p50/p99/max. The aim: 0 lost, p99 ≤ 100 ms at 1,000.
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { percentile, registerDevices, request, sleep, startLocalHub } from './local-hub.mjs';

const TIERS = (process.env.BENCH_CLIENTS ?? '100,1000').split(',').map(Number);
const RATE = Number(process.env.BENCH_RATE ?? 10);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const DRAIN_MS = 10_000;

async function subscriber(port, token, agentId, onEntry) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
  await new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', resolve);
  });
  const replies = [];
  let waiting = null;
  ws.on('message', (raw) => {
    const message = JSON.parse(raw.toString());
    if (message.type === 'stream') {
      onEntry(message);
    } else if (message.type === 'error' || message.type === 'resync_required') {
      throw new Error(`a subscriber got ${JSON.stringify(message)}`);
    } else {
      replies.push(message);
      waiting?.();
    }
  });
  const reply = async (frame) => {
    ws.send(JSON.stringify(frame));
    while (replies.length === 0) {
      await new Promise((resolve) => (waiting = resolve));
    }
    return replies.shift();
  };
  const hello = await reply({ type: 'hello', id: 'h', token });
  if (hello.type !== 'hello_ok') {
    throw new Error(`hello answered ${JSON.stringify(hello)}`);
  }
  const subscribed = await reply({ type: 'subscribe', id: 's', agent_id: agentId, topics: ['events.new'] });
  if (subscribed.type !== 'subscribed') {
    throw new Error(`subscribe answered ${JSON.stringify(subscribed)}`);
  }
  return ws;
}

async function tier(clients) {
  const hub = await startLocalHub();
  const sockets = [];
  try {
    const { agent_id: agentId, space_id: spaceId, device_token: poster, user_token: owner } = hub.credentials;
    const tokens = await registerDevices(hub.port, owner, agentId, clients, ['events:read']);
    const total = RATE * SECONDS;
    const sentAt = new Array(total);
    const latencies = [];
    let duplicates = 0;
    let outOfOrder = 0;
    const perClient = [];
    for (let c = 0; c < clients; c++) {
      const seen = new Set();
      let lastSeq = 0;
      perClient.push(seen);
      sockets.push(
        await subscriber(hub.port, tokens[c], agentId, (entry) => {
          const at = performance.now();
          const i = entry.data?.payload?.i;
          if (typeof i !== 'number' || sentAt[i] === undefined) {
            return;
          }
          if (seen.has(i)) {
            duplicates++;
            return;
          }
          if (entry.seq <= lastSeq) {
            outOfOrder++;
          }
          lastSeq = entry.seq;
          seen.add(i);
          latencies.push(at - sentAt[i]);
        }),
      );
    }
    const rssBefore = hub.rss();
    // A steady rate: event i is due at start + i / RATE, whatever the previous POST took.
    const start = performance.now();
    const posts = [];
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) {
        await sleep(wait);
      }
      sentAt[i] = performance.now();
      posts.push(
        request(hub.port, 'POST', '/v1/events', poster, {
          space_id: spaceId,
          type: 'bench.tick',
          payload: { i },
        }).then((reply) => {
          if (reply.status !== 202 && reply.status !== 201) {
            throw new Error(`posting event ${i} answered ${reply.status}: ${JSON.stringify(reply.json)}`);
          }
        }),
      );
    }
    await Promise.all(posts);
    const expected = total * clients;
    const drainUntil = performance.now() + DRAIN_MS;
    while (latencies.length < expected && performance.now() < drainUntil) {
      await sleep(50);
    }
    const ms = (v) => `${v.toFixed(1)} ms`;
    console.log(
      `${String(clients).padStart(5)} subscribers, ${total} events at ${RATE}/s: ` +
        `${latencies.length}/${expected} delivered, lost ${expected - latencies.length}, ` +
        `duplicates ${duplicates}, out of order ${outOfOrder}; latency p50 ${ms(percentile(latencies, 50))}, ` +
        `p99 ${ms(percentile(latencies, 99))}, max ${ms(latencies.reduce((a, b) => Math.max(a, b), 0))}; ` +
        `hub RSS ${(rssBefore / 2 ** 20).toFixed(0)} → ${(hub.rss() / 2 ** 20).toFixed(0)} MiB`,
    );
  } finally {
    for (const ws of sockets) {
      ws.terminate();
    }
    hub.stop();
  }
}

for (const clients of TIERS) {
  await tier(clients);
}
process.exit(0);
