import { startHubProcess, type HubProcess } from './testing/hub-process';
import { jsonFrame, RawWebSocket } from './testing/raw-websocket';

/** What the flooding client sends: ping frames, as fast as the hub takes them, and it never reads a reply. */
const FLOOD_BYTES = 80 * 1024 * 1024;

/**
 * How far the hub's resident memory may rise over its idle size during and after the flood. One
 * connection may hold at most 1 MiB of unread replies, a 64 KiB frame and 100 queued frames; the
 * rest is slack for the V8 heap and the allocator, which do not hand memory back at once (the
 * bounded hub rises by about 2 MiB). The unbounded hub answered every ping and rose by about
 * 500 MiB on this flood (by gigabytes on longer ones), and kept it after the socket closed.
 */
const RSS_BUDGET_BYTES = 48 * 1024 * 1024;

const MiB = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

describe('a real hub process flooded with pings by a client that never reads', () => {
  let hub: HubProcess;

  beforeAll(async () => {
    hub = await startHubProcess();
  }, 180_000);

  afterAll(async () => {
    await hub.stop();
  });

  it(`stays within ${MiB(RSS_BUDGET_BYTES)} of its idle memory, keeps answering, and does not grow after the socket closes`, async () => {
    const { device_token: token } = await hub.credentials();
    // Warm up what a first request and a first WebSocket load, so the baseline is the idle hub.
    const warm = await RawWebSocket.open(hub.url);
    warm.send(jsonFrame({ type: 'hello', id: 'w', token }));
    await warm.message((m) => m['id'] === 'w');
    warm.destroy();
    await fetch(`${hub.url}/v1/health`).then((r) => r.text());
    const idle = hub.rssBytes();
    const samples: number[] = [];

    const flood = await RawWebSocket.open(hub.url);
    flood.stopReading();
    const batch = Buffer.concat(Array.from({ length: 2000 }, (_, i) => jsonFrame({ type: 'ping', id: String(i) })));
    let written = 0;
    const socket = { ended: false };
    flood.socket.once('close', () => (socket.ended = true));
    while (written < FLOOD_BYTES && !socket.ended) {
      if (!flood.socket.write(batch)) {
        await new Promise<void>((resolve) => {
          flood.socket.once('drain', resolve);
          flood.socket.once('close', resolve);
        });
      }
      written += batch.length;
      if ((written / batch.length) % 50 === 0) {
        samples.push(hub.rssBytes());
      }
    }
    samples.push(hub.rssBytes());
    const health = await fetch(`${hub.url}/v1/health`);
    expect(health.status).toBe(200);

    flood.destroy();
    const after: number[] = [];
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 400));
      after.push(hub.rssBytes());
    }
    const report = { idle: MiB(idle), peak: MiB(Math.max(...samples)), after: after.map(MiB), written: MiB(written) };
    expect({ ...report, within: Math.max(...samples, ...after) - idle <= RSS_BUDGET_BYTES }).toEqual({
      ...report,
      within: true,
    });
    expect((await fetch(`${hub.url}/v1/health`)).status).toBe(200);
    expect(hub.running()).toBe(true);
  }, 180_000);
});
