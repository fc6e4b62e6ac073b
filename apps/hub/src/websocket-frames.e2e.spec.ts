import { connect } from 'node:net';
import { WsCloseCode } from '@marvain/contracts';
import { startHubProcess, type HubProcess } from './testing/hub-process';
import { encodeFrame, jsonFrame, RawWebSocket } from './testing/raw-websocket';

/**
 * Frames that break the WebSocket protocol, sent over a raw socket to a real hub process (the
 * bundle `npm start` runs): each closes its own socket with the protocol's close code, and the
 * process goes on serving. Before, the library's 'error' event had no listener and ended it.
 */
describe('a real hub process sent malformed WebSocket frames', () => {
  let hub: HubProcess;

  beforeAll(async () => {
    hub = await startHubProcess();
  }, 180_000);

  afterAll(async () => {
    await hub.stop();
  });

  async function expectServing(): Promise<void> {
    const response = await fetch(`${hub.url}/v1/health`);
    expect({ running: hub.running(), status: response.status, exit: hub.exit() }).toEqual({
      running: true,
      status: 200,
      exit: null,
    });
    expect(await response.json()).toMatchObject({ status: 'ok' });
  }

  const over64KiB = Buffer.alloc(64 * 1024 + 1, 0x61);
  const ping = '{"type":"ping"}';

  it.each<[string, number, Buffer[]]>([
    ['a text frame over 64 KiB', WsCloseCode.MessageTooBig, [encodeFrame({ opcode: 0x1, payload: over64KiB })]],
    [
      'a message over 64 KiB in two fragments',
      WsCloseCode.MessageTooBig,
      [
        encodeFrame({ opcode: 0x1, fin: false, payload: Buffer.alloc(40_000, 0x61) }),
        encodeFrame({ opcode: 0x0, payload: Buffer.alloc(40_000, 0x61) }),
      ],
    ],
    ['a binary frame over 64 KiB', WsCloseCode.MessageTooBig, [encodeFrame({ opcode: 0x2, payload: over64KiB })]],
    [
      'a text frame that is not UTF-8',
      WsCloseCode.InvalidPayload,
      [encodeFrame({ opcode: 0x1, payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) })],
    ],
    [
      'an unmasked client frame',
      WsCloseCode.ProtocolError,
      [encodeFrame({ opcode: 0x1, payload: ping, masked: false })],
    ],
    ['a reserved data opcode (0x3)', WsCloseCode.ProtocolError, [encodeFrame({ opcode: 0x3, payload: ping })]],
    ['a reserved control opcode (0xB)', WsCloseCode.ProtocolError, [encodeFrame({ opcode: 0xb })]],
    [
      'RSV1 set with no extension negotiated',
      WsCloseCode.ProtocolError,
      [encodeFrame({ opcode: 0x1, rsv: 4, payload: ping })],
    ],
    [
      'a control frame over 125 bytes',
      WsCloseCode.ProtocolError,
      [encodeFrame({ opcode: 0x9, payload: Buffer.alloc(126, 0x61) })],
    ],
    [
      'a continuation with nothing to continue',
      WsCloseCode.ProtocolError,
      [encodeFrame({ opcode: 0x0, payload: ping })],
    ],
    ['a fragmented ping', WsCloseCode.ProtocolError, [encodeFrame({ opcode: 0x9, fin: false, payload: 'x' })]],
  ])('%s closes that socket with %i; the hub keeps serving', async (_name, code, frames) => {
    const client = await RawWebSocket.open(hub.url);
    for (const frame of frames) {
      client.send(frame);
    }
    expect((await client.closed()).code).toBe(code);
    client.destroy();
    await expectServing();
  });

  /** Sends raw bytes on a fresh TCP connection and resets it at once (RST), before the hub has answered. */
  async function sendAndReset(bytes: string): Promise<void> {
    const socket = connect(hub.port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(bytes);
    await new Promise<void>((resolve) => setImmediate(resolve));
    socket.resetAndDestroy();
  }

  const upgrade = (path: string, key = 'dGhlIHNhbXBsZSBub25jZQ=='): string =>
    `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;

  it.each([
    ['an upgrade to another path', upgrade('/elsewhere')],
    ['an upgrade with a malformed key', upgrade('/v1/ws', 'short')],
    ['an upgrade to /v1/ws', upgrade('/v1/ws')],
    ['a malformed HTTP request', 'GET / HTTP/1.1\r\nHost x\r\n\r\n'],
  ])('%s whose client resets at once leaves the hub serving', async (_name, bytes) => {
    for (let i = 0; i < 20; i++) {
      await sendAndReset(bytes);
    }
    await expectServing();
  });

  it('after all of them, a well-behaved client still says hello', async () => {
    const { device_token: token } = await hub.credentials();
    const client = await RawWebSocket.open(hub.url);
    client.send(jsonFrame({ type: 'hello', id: 'h1', token }));
    expect(await client.message((m) => m['id'] === 'h1')).toMatchObject({
      type: 'hello_ok',
      principal: { type: 'device' },
    });
    client.destroy();
    await expectServing();
  });
});
