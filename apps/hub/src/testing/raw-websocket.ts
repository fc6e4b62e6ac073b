import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** One WebSocket frame as a client would put it on the wire; every field can be bent. */
export interface RawFrame {
  opcode: number;
  payload?: Buffer | string;
  fin?: boolean;
  /** RSV1..RSV3 as a 3-bit number (RSV1 = 4). */
  rsv?: number;
  /** Clients must mask; false sends the payload in the clear. */
  masked?: boolean;
}

export function encodeFrame(frame: RawFrame): Buffer {
  const payload =
    typeof frame.payload === 'string' ? Buffer.from(frame.payload, 'utf8') : (frame.payload ?? Buffer.alloc(0));
  const masked = frame.masked ?? true;
  const first = ((frame.fin ?? true) ? 0x80 : 0) | ((frame.rsv ?? 0) << 4) | (frame.opcode & 0x0f);
  let header: Buffer;
  if (payload.length < 126) {
    header = Buffer.from([first, payload.length]);
  } else if (payload.length < 65536) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = 126;
    header.writeUInt16BE(payload.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  if (!masked) {
    return Buffer.concat([header, payload]);
  }
  header[1] = (header[1] as number) | 0x80;
  const key = randomBytes(4);
  const body = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) {
    body[i] = (payload[i] as number) ^ (key[i % 4] as number);
  }
  return Buffer.concat([header, key, body]);
}

/** A text frame holding `value` as JSON, masked as a client sends it. */
export const jsonFrame = (value: unknown): Buffer => encodeFrame({ opcode: 0x1, payload: JSON.stringify(value) });

export interface ServerFrame {
  opcode: number;
  payload: Buffer;
}

/**
 * A WebSocket client over a plain TCP socket after a hand-made upgrade: it sends whatever bytes
 * a test crafts and records every frame the server sends, including its close code.
 */
export class RawWebSocket {
  readonly frames: ServerFrame[] = [];
  /** The text frames parsed so far, and how many frames that covers (see messages()). */
  private readonly parsed: unknown[] = [];
  private framesParsed = 0;
  private buffer = Buffer.alloc(0);
  private ended = false;
  private readonly waiters = new Set<() => void>();

  private asked = 0;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.parse();
      this.wake();
    });
    socket.on('error', () => undefined); // a reset by the hub shows as `ended`
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  /** Connects and upgrades; rejects unless the server answers 101. */
  static open(baseUrl: string, path = '/v1/ws'): Promise<RawWebSocket> {
    const { hostname, port } = new URL(baseUrl);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname);
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) {
          return;
        }
        socket.off('data', onData);
        const status = head.subarray(0, end).toString('latin1');
        if (!/^HTTP\/1\.1 101 /.test(status)) {
          socket.destroy();
          reject(new Error(`upgrade refused: ${status}`));
          return;
        }
        const client = new RawWebSocket(socket);
        const rest = head.subarray(end + 4);
        if (rest.length > 0) {
          socket.emit('data', rest);
        }
        resolve(client);
      };
      socket.on('data', onData);
      socket.once('error', reject);
      socket.write(
        [
          `GET ${path} HTTP/1.1`,
          `Host: ${hostname}:${port}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
          'Sec-WebSocket-Version: 13',
          '',
          '',
        ].join('\r\n'),
      );
    });
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Stops reading: what the server sends piles up (in the kernel, then in the server). */
  stopReading(): void {
    this.socket.pause();
  }

  /** The JSON text messages received so far. */
  messages(): unknown[] {
    // Each frame is parsed once: a wait re-checks on every chunk received, and a stream of large
    // messages parsed again each time would keep the client from reading.
    for (; this.framesParsed < this.frames.length; this.framesParsed += 1) {
      const frame = this.frames[this.framesParsed] as ServerFrame;
      if (frame.opcode === 0x1) {
        this.parsed.push(JSON.parse(frame.payload.toString('utf8')) as unknown);
      }
    }
    return [...this.parsed];
  }

  /** Resolves with the JSON message matching `test`, once it has arrived (rejects if the socket ends first). */
  async message<T = Record<string, unknown>>(test: (message: T) => boolean): Promise<T> {
    await this.until(() => this.messages().some((m) => test(m as T)), 'the expected message');
    return this.messages().find((m) => test(m as T)) as T;
  }

  /** Sends `frame` as JSON with a fresh `id` and resolves with the reply that echoes it. */
  ask<T = Record<string, unknown>>(frame: Record<string, unknown>): Promise<T> {
    const id = `m${++this.asked}`;
    this.send(jsonFrame({ ...frame, id }));
    return this.message<T>((m) => (m as { id?: unknown }).id === id);
  }

  /** The server's close frame (code and reason), once it has closed; code null if the socket ended without one. */
  async closed(): Promise<{ code: number | null; reason: string }> {
    await this.until(() => this.ended || this.closeFrame() !== undefined, 'a close', true);
    const frame = this.closeFrame();
    if (!frame || frame.payload.length < 2) {
      return { code: null, reason: '' };
    }
    return { code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString('utf8') };
  }

  destroy(): void {
    this.socket.destroy();
  }

  private closeFrame(): ServerFrame | undefined {
    return this.frames.find((f) => f.opcode === 0x8);
  }

  private until(done: () => boolean, what: string, endIsFine = false): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (done()) {
          this.waiters.delete(check);
          resolve();
        } else if (this.ended && !endIsFine) {
          this.waiters.delete(check);
          reject(new Error(`the socket ended before ${what}; frames: ${JSON.stringify(this.messages())}`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) {
      waiter();
    }
  }

  private parse(): void {
    for (;;) {
      if (this.buffer.length < 2) {
        return;
      }
      const opcode = (this.buffer[0] as number) & 0x0f;
      let length = (this.buffer[1] as number) & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffer.length < 4) {
          return;
        }
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) {
          return;
        }
        length = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.buffer.length < offset + length) {
        return;
      }
      const payload = Buffer.from(this.buffer.subarray(offset, offset + length));
      this.frames.push({ opcode, payload });
      this.buffer = this.buffer.subarray(offset + length);
      // Answer a close as a client does, so the server need not wait out its close timeout.
      if (opcode === 0x8 && !this.socket.writableEnded) {
        this.socket.end(encodeFrame({ opcode: 0x8, payload: payload.subarray(0, 2) }));
      }
    }
  }
}
