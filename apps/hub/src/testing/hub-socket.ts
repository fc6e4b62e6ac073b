import WebSocket from 'ws';
import type { ServerMessage, StreamEntry } from '@marvain/contracts';

/** A server message as specs read it: any field may be looked at. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- specs read replies field by field
export type Reply = ServerMessage & Record<string, any>;

/** How long a spec waits for a message the hub should send before it fails the wait. */
export const MESSAGE_WAIT_MS = 15_000;

/**
 * A real `ws` client of the hub's WebSocket, recording everything the hub sends. Waits are for
 * messages (with a timeout that fails the spec), never for time.
 */
export class HubSocket {
  readonly received: Reply[] = [];
  private closeInfo: { code: number; reason: string } | null = null;
  private readonly waiters = new Set<() => void>();
  private nextId = 0;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      this.received.push(
        isBinary
          ? ({ type: 'binary', bytes: data.length } as unknown as Reply)
          : (JSON.parse(data.toString()) as Reply),
      );
      this.wake();
    });
    socket.on('close', (code: number, reason: Buffer) => {
      this.closeInfo = { code, reason: reason.toString() };
      this.wake();
    });
    socket.on('error', () => undefined); // a close follows; specs read it from closed()
  }

  /** Opens a socket to the hub at `base` (http://…); with a token, says hello and expects hello_ok. */
  static async open(base: string, token?: string): Promise<HubSocket> {
    const socket = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/ws`);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const client = new HubSocket(socket);
    if (token !== undefined) {
      const reply = await client.request({ type: 'hello', token });
      if (reply.type !== 'hello_ok') {
        client.terminate();
        throw new Error(`hello was refused: ${JSON.stringify(reply)}`);
      }
    }
    return client;
  }

  /** Sends a message (an object as JSON, a string as it is). */
  send(message: object | string): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Sends `message` with a fresh id and resolves with the reply echoing it. */
  async request(message: Record<string, unknown>): Promise<Reply> {
    const id = `r${++this.nextId}`;
    this.send({ ...message, id });
    return this.next((m) => m.id === id, `the reply to ${String(message['type'])} (${id})`);
  }

  /** The first received message matching `test` (waiting for it if needed). */
  async next(test: (message: Reply) => boolean, what = 'a message', timeoutMs = MESSAGE_WAIT_MS): Promise<Reply> {
    await this.until(() => this.received.some(test), what, timeoutMs);
    return this.received.find(test) as Reply;
  }

  /** Waits until `count` received messages match `test`; resolves with them, in arrival order. */
  async nextMany(
    test: (message: Reply) => boolean,
    count: number,
    what = `${count} messages`,
    timeoutMs = MESSAGE_WAIT_MS,
  ): Promise<Reply[]> {
    await this.until(() => this.received.filter(test).length >= count, what, timeoutMs);
    return this.received.filter(test);
  }

  /** The stream entries received so far, optionally only one topic's. */
  entries(topic?: string): Array<StreamEntry & { type: 'stream' }> {
    return this.received.filter((m) => m.type === 'stream' && (!topic || m['topic'] === topic)) as Array<
      StreamEntry & { type: 'stream' }
    >;
  }

  /** The close the hub sent (or the socket's end), once it has happened. */
  async closed(timeoutMs = MESSAGE_WAIT_MS): Promise<{ code: number; reason: string }> {
    await this.until(() => this.closeInfo !== null, 'the socket to close', timeoutMs, true);
    return this.closeInfo as { code: number; reason: string };
  }

  get isClosed(): boolean {
    return this.closeInfo !== null;
  }

  /** Closes from the client's side and waits until the hub has seen it. */
  async close(): Promise<void> {
    if (this.closeInfo === null) {
      this.socket.close();
      await this.closed();
    }
  }

  /** Drops the connection without a close handshake (a client that vanished). */
  terminate(): void {
    this.socket.terminate();
  }

  private until(done: () => boolean, what: string, timeoutMs: number, endIsFine = false): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; received: ${this.describe()}`));
      }, timeoutMs);
      const check = (): void => {
        if (done()) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve();
        } else if (this.closeInfo !== null && !endIsFine) {
          clearTimeout(timer);
          this.waiters.delete(check);
          reject(
            new Error(`the socket closed (${JSON.stringify(this.closeInfo)}) before ${what}; got ${this.describe()}`),
          );
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  private describe(): string {
    return JSON.stringify(this.received.slice(-10)).slice(0, 2000);
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) {
      waiter();
    }
  }
}
