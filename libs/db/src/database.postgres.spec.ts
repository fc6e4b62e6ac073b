import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { openDatabase } from './database';

/**
 * Just enough of a PostgreSQL server for node-postgres to connect and run simple-protocol
 * statements (BEGIN, COMMIT, …): it lets a test drop the connection at a chosen moment, which a
 * real server (failover, restart, pg_terminate_backend) does at moments no test can choose.
 */
class FakePostgres {
  readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakePostgres> {
    const server = createServer();
    const fake = new FakePostgres(server);
    server.on('connection', (socket) => fake.serve(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    return `postgres://tester@127.0.0.1:${(this.server.address() as AddressInfo).port}/fake`;
  }

  dropEveryConnection(): void {
    for (const socket of this.sockets) {
      socket.destroy();
    }
  }

  async close(): Promise<void> {
    this.dropEveryConnection();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    let started = false;
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        // The startup message has no type byte; every later message does.
        const header = started ? 5 : 4;
        if (buffered.length < header) {
          return;
        }
        const length = buffered.readInt32BE(started ? 1 : 0) + (started ? 1 : 0);
        if (buffered.length < length) {
          return;
        }
        const type = started ? String.fromCharCode(buffered[0] as number) : 'startup';
        const body = buffered.subarray(header, length);
        buffered = buffered.subarray(length);
        if (type === 'startup') {
          started = true;
          socket.write(Buffer.concat([message('R', int32(0)), message('Z', Buffer.from('I'))]));
        } else if (type === 'Q') {
          const text = body.toString('utf8').replace(/\0$/, '').trim().toUpperCase();
          socket.write(
            Buffer.concat([
              message('C', Buffer.from(`${text}\0`)),
              message('Z', Buffer.from(text === 'BEGIN' ? 'T' : 'I')),
            ]),
          );
        } else if (type === 'X') {
          socket.end();
        }
      }
    });
  }
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
}

function message(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(type), int32(body.length + 4), body]);
}

describe('the node-postgres database handle', () => {
  let fake: FakePostgres;
  beforeEach(async () => {
    fake = await FakePostgres.start();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('survives the server dropping a connection that a transaction holds between statements: the transaction fails, the process does not', async () => {
    const handle = await openDatabase({ kind: 'postgres', url: fake.url, poolSize: 1 });
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown): void => void uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const outcome = handle.db.transaction().execute(async (trx) => {
        // The connection is checked out of the pool here, with no query running on it.
        fake.dropEveryConnection();
        await new Promise((resolve) => setTimeout(resolve, 100));
        await sql`COMMIT`.execute(trx);
      });
      await expect(outcome).rejects.toThrow();
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      await handle.close().catch(() => undefined);
    }
  });
});
