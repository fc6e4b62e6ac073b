import type { LoggerService } from '@nestjs/common';
import { QueueNames, type QueueName } from '@marvain/contracts';
import type { MessageQueue, ReceivedMessage, SendOptions } from '../queue/message-queue';
import {
  exponentialBackoff,
  PoisonMessageError,
  QueueWorker,
  type MessageHandler,
  type QueueWorkerOptions,
} from './queue-worker';

const Q: QueueName = QueueNames.Transcripts;
const OTHER: QueueName = QueueNames.Actions;

interface Stored {
  id: string;
  queue: QueueName;
  body: Record<string, unknown>;
  receiveCount: number;
  receipt: string | null;
  hidden: boolean;
  dead: boolean;
  /** Held by a process that crashed (what reclaimAbandoned gives back). */
  abandoned?: boolean;
}

/** In-memory MessageQueue with the interface's semantics, recording what the worker asks of it. */
class FakeQueue implements MessageQueue {
  readonly messages: Stored[] = [];
  readonly acks: string[] = [];
  readonly retries: Array<{ id: string; delaySeconds: number; error: string }> = [];
  readonly deadLetters: Array<{ id: string; error: string }> = [];
  receiveCalls = 0;
  reclaimCalls = 0;
  failNextReceive: Error | null = null;
  failReclaim: Error | null = null;
  private readonly listeners: Array<(queue: QueueName) => void> = [];
  private nextId = 1;

  constructor(private readonly maxReceives = 5) {}

  async send(queue: QueueName, body: Record<string, unknown>, _options?: SendOptions): Promise<void> {
    this.messages.push({
      id: `m${this.nextId++}`,
      queue,
      body,
      receiveCount: 0,
      receipt: null,
      hidden: false,
      dead: false,
    });
    this.listeners.forEach((listener) => listener(queue));
  }

  async receive<T>(
    queue: QueueName,
    options: { max: number; visibilityTimeoutSeconds: number },
  ): Promise<ReceivedMessage<T>[]> {
    this.receiveCalls++;
    if (this.failNextReceive) {
      const error = this.failNextReceive;
      this.failNextReceive = null;
      throw error;
    }
    const picked = this.messages.filter((m) => m.queue === queue && !m.hidden && !m.dead).slice(0, options.max);
    return picked.map((m) => {
      m.receiveCount++;
      m.hidden = true;
      m.receipt = `${m.id}-r${m.receiveCount}`;
      return { id: m.id, receipt: m.receipt, body: m.body as T, receiveCount: m.receiveCount };
    });
  }

  async ack(_queue: QueueName, message: ReceivedMessage<unknown>): Promise<void> {
    this.acks.push(message.id);
    const index = this.messages.findIndex((m) => m.id === message.id && m.receipt === message.receipt);
    if (index >= 0) {
      this.messages.splice(index, 1);
    }
  }

  async retry(
    _queue: QueueName,
    message: ReceivedMessage<unknown>,
    options: { delaySeconds: number; error: string },
  ): Promise<'retrying' | 'dead'> {
    this.retries.push({ id: message.id, ...options });
    const stored = this.messages.find((m) => m.id === message.id);
    if (stored) {
      stored.receipt = null;
    }
    if (message.receiveCount >= this.maxReceives) {
      if (stored) {
        stored.dead = true;
      }
      return 'dead';
    }
    // Stays hidden: the delay has not passed yet as far as these tests are concerned.
    return 'retrying';
  }

  async deadLetter(_queue: QueueName, message: ReceivedMessage<unknown>, error: string): Promise<void> {
    this.deadLetters.push({ id: message.id, error });
    const stored = this.messages.find((m) => m.id === message.id);
    if (stored) {
      stored.dead = true;
    }
  }

  async reclaimAbandoned(queue: QueueName): Promise<number> {
    this.reclaimCalls++;
    if (this.failReclaim) {
      throw this.failReclaim;
    }
    const abandoned = this.messages.filter((m) => m.queue === queue && m.abandoned && m.hidden);
    for (const m of abandoned) {
      Object.assign(m, { hidden: false, abandoned: false, receipt: null });
    }
    return abandoned.length;
  }

  onSent(listener: (queue: QueueName) => void): void {
    this.listeners.push(listener);
  }
}

function fakeLogger(): LoggerService & { log: jest.Mock; warn: jest.Mock; error: jest.Mock } {
  return { log: jest.fn(), warn: jest.fn(), error: jest.fn() };
}

const OPTIONS: QueueWorkerOptions = { batchSize: 10, visibilityTimeoutSeconds: 30, pollIntervalMs: 5000 };

const message = (receiveCount: number, id = 'm1'): ReceivedMessage => ({
  id,
  receipt: `${id}-r${receiveCount}`,
  body: { n: 1 },
  receiveCount,
});

/** Resolves with the value, or rejects if it takes longer than ms. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`${what} did not happen within ${ms} ms`);
    }
    await sleep(10);
  }
}

describe('exponentialBackoff', () => {
  it('doubles from 1 second with each receive and caps at 5 minutes', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 50].map(exponentialBackoff)).toEqual([
      1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300,
    ]);
  });
});

describe('QueueWorker', () => {
  const workers: Array<QueueWorker<Record<string, unknown>>> = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.stop()));
  });

  function worker(
    queue: MessageQueue,
    handler: MessageHandler<Record<string, unknown>>,
    logger = fakeLogger(),
    options: QueueWorkerOptions = OPTIONS,
  ): QueueWorker<Record<string, unknown>> {
    const created = new QueueWorker(queue, Q, handler, options, logger);
    workers.push(created);
    return created;
  }

  it('acks a message its handler handled', async () => {
    const queue = new FakeQueue();
    const handled: unknown[] = [];
    const w = worker(queue, async (m) => void handled.push(m.body));

    expect(await w.process(message(1))).toBe('acked');
    expect(handled).toEqual([{ n: 1 }]);
    expect(queue.acks).toEqual(['m1']);
    expect(queue.retries).toEqual([]);
    expect(queue.deadLetters).toEqual([]);
  });

  it('retries a failed message with exponential backoff by receive count, and reports the outcome', async () => {
    const queue = new FakeQueue(100);
    const logger = fakeLogger();
    const w = worker(
      queue,
      async () => {
        throw new Error('model timed out');
      },
      logger,
    );

    const outcomes: string[] = [];
    for (let receiveCount = 1; receiveCount <= 10; receiveCount++) {
      outcomes.push(await w.process(message(receiveCount)));
    }

    expect(outcomes).toEqual(Array(10).fill('retrying'));
    expect(queue.retries.map((r) => r.delaySeconds)).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
    expect(queue.retries.every((r) => r.error === 'Error: model timed out')).toBe(true);
    expect(queue.acks).toEqual([]);
    expect(queue.deadLetters).toEqual([]);
    expect(logger.warn).toHaveBeenCalledTimes(10);
  });

  it('reports "dead" when the queue dead-letters a message that used its last receive', async () => {
    const queue = new FakeQueue(3);
    const logger = fakeLogger();
    const w = worker(
      queue,
      async () => {
        throw new Error('still failing');
      },
      logger,
    );
    expect(await w.process(message(2))).toBe('retrying');
    expect(await w.process(message(3))).toBe('dead');
    expect(queue.retries.map((r) => r.delaySeconds)).toEqual([2, 4]);
    expect(queue.deadLetters).toEqual([]);
    expect(String(logger.warn.mock.calls[1]?.[0])).toMatch(/dead-lettered/);
  });

  it('uses the configured backoff when one is given', async () => {
    const queue = new FakeQueue();
    const w = worker(
      queue,
      async () => {
        throw new Error('x');
      },
      fakeLogger(),
      { ...OPTIONS, backoffSeconds: (n) => n * 10 },
    );
    await w.process(message(3));
    expect(queue.retries.map((r) => r.delaySeconds)).toEqual([30]);
  });

  it('dead-letters a poison message at once instead of retrying it', async () => {
    const queue = new FakeQueue();
    const logger = fakeLogger();
    const w = worker(
      queue,
      async () => {
        throw new PoisonMessageError('event e1 does not exist');
      },
      logger,
    );

    expect(await w.process(message(1))).toBe('dead');
    expect(queue.deadLetters).toEqual([{ id: 'm1', error: 'PoisonMessageError: event e1 does not exist' }]);
    expect(queue.retries).toEqual([]);
    expect(queue.acks).toEqual([]);
    expect(logger.error).toHaveBeenCalledTimes(1);
  });

  it('drainOnce() handles one batch and says how many it saw', async () => {
    const queue = new FakeQueue();
    for (let i = 0; i < 3; i++) {
      await queue.send(Q, { i });
    }
    await queue.send(OTHER, { other: true });
    const handled: unknown[] = [];
    const w = worker(queue, async (m) => void handled.push(m.body), fakeLogger(), { ...OPTIONS, batchSize: 2 });

    expect(await w.drainOnce()).toBe(2);
    expect(await w.drainOnce()).toBe(1);
    expect(await w.drainOnce()).toBe(0);
    expect(handled).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
    expect(queue.acks).toHaveLength(3);
    expect(queue.messages.map((m) => m.body)).toEqual([{ other: true }]);
  });

  it('handles what is already queued as soon as it starts', async () => {
    const queue = new FakeQueue();
    await queue.send(Q, { early: true });
    const handled = new Promise<unknown>((resolve) => worker(queue, async (m) => resolve(m.body)).start());
    expect(await within(handled, 1000, 'handling the queued message')).toEqual({ early: true });
  });

  it('first reclaims what a crashed earlier process held, then handles it, and logs how many', async () => {
    const queue = new FakeQueue();
    await queue.send(Q, { held: 'by the crashed process' });
    Object.assign(queue.messages[0] as Stored, { hidden: true, abandoned: true, receiveCount: 1, receipt: 'old' });
    const logger = fakeLogger();
    const handled: ReceivedMessage[] = [];
    worker(queue, async (m) => void handled.push(m), logger).start();
    await until(() => handled.length === 1, 1000, 'handling the reclaimed message');
    expect(handled[0]).toMatchObject({ body: { held: 'by the crashed process' }, receiveCount: 2 });
    expect(queue.reclaimCalls).toBe(1);
    expect(logger.log).toHaveBeenCalledWith(expect.objectContaining({ queue: Q, messages: 1 }));
  });

  it('still polls when reclaiming fails', async () => {
    const queue = new FakeQueue();
    queue.failReclaim = new Error('database restarting');
    const logger = fakeLogger();
    const handled: unknown[] = [];
    worker(queue, async (m) => void handled.push(m.body), logger).start();
    await queue.send(Q, { n: 2 });
    await until(() => handled.length === 1, 1000, 'handling after the failed reclaim');
    expect(String(logger.warn.mock.calls[0]?.[0])).toMatch(/database restarting/);
  });

  it('an idle worker wakes on a send notification, long before its next poll', async () => {
    const queue = new FakeQueue();
    let handledResolve!: (body: unknown) => void;
    const handled = new Promise<unknown>((resolve) => (handledResolve = resolve));
    const w = worker(queue, async (m) => handledResolve(m.body));
    w.start();
    await until(() => queue.receiveCalls >= 1, 1000, 'the first poll');
    await sleep(50); // now idle, waiting out a 5 s poll interval

    const sentAt = Date.now();
    await queue.send(Q, { wake: true });
    expect(await within(handled, 1000, 'handling after the send notification')).toEqual({ wake: true });
    expect(Date.now() - sentAt).toBeLessThan(OPTIONS.pollIntervalMs);
  });

  it('is not woken by sends to other queues', async () => {
    const queue = new FakeQueue();
    const w = worker(queue, async () => undefined);
    w.start();
    await until(() => queue.receiveCalls >= 1, 1000, 'the first poll');
    await sleep(50);
    const before = queue.receiveCalls;
    await queue.send(OTHER, { n: 1 });
    await sleep(300);
    expect(queue.receiveCalls).toBe(before);
  });

  it('keeps running after a failed receive', async () => {
    const queue = new FakeQueue();
    const logger = fakeLogger();
    queue.failNextReceive = new Error('connection reset');
    let handledResolve!: (body: unknown) => void;
    const handled = new Promise<unknown>((resolve) => (handledResolve = resolve));
    const w = worker(queue, async (m) => handledResolve(m.body), logger);
    w.start();
    await until(() => logger.error.mock.calls.length >= 1, 1000, 'the receive failure being logged');
    expect(String(logger.error.mock.calls[0]?.[0])).toMatch(/connection reset/);

    await queue.send(Q, { after: 'failure' });
    expect(await within(handled, 1000, 'handling after a failed receive')).toEqual({ after: 'failure' });
  });

  it('stop() resolves promptly even mid-wait, and the loop polls no more', async () => {
    const queue = new FakeQueue();
    const handled: unknown[] = [];
    const w = worker(queue, async (m) => void handled.push(m.body));
    w.start();
    await until(() => queue.receiveCalls >= 1, 1000, 'the first poll');
    await sleep(50);

    await within(w.stop(), 1000, 'stop()');
    const calls = queue.receiveCalls;
    await queue.send(Q, { late: true });
    await sleep(200);
    expect(queue.receiveCalls).toBe(calls);
    expect(handled).toEqual([]);
  });

  it('can be started again after stopping, and stop() without start() resolves', async () => {
    const queue = new FakeQueue();
    const bodies: unknown[] = [];
    const w = worker(queue, async (m) => void bodies.push(m.body));
    await within(w.stop(), 1000, 'stop() before start()');
    w.start();
    await within(w.stop(), 1000, 'stop()');
    w.start();
    await queue.send(Q, { again: true });
    await until(() => bodies.length === 1, 1000, 'handling after restart');
    expect(bodies).toEqual([{ again: true }]);
  });
});
