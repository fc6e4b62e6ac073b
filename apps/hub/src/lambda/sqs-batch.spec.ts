import type { LoggerService } from '@nestjs/common';
import { QueueNames } from '@marvain/contracts';
import { PoisonMessageError } from '@marvain/platform';
import { processSqsBatch, type QueueHandlers } from './sqs-batch';
import { sqsEvent } from './testing/lambda-events';

const QUEUE = { visibilityTimeoutSeconds: 60, maxReceives: 3, pollIntervalMs: 250 };

function logger(): LoggerService & { log: jest.Mock; warn: jest.Mock; error: jest.Mock } {
  return { log: jest.fn(), warn: jest.fn(), error: jest.fn() };
}

/** Handlers whose outcome is chosen by the body's `outcome` field; a body that is no object is poison. */
function handlers(): QueueHandlers<unknown> & {
  handled: unknown[];
  deadLetters: Array<{ body: unknown; error: string }>;
} {
  const handled: unknown[] = [];
  const deadLetters: Array<{ body: unknown; error: string }> = [];
  return {
    handled,
    deadLetters,
    handle: async (body) => {
      handled.push(body);
      const outcome = typeof body === 'object' && body !== null ? (body as { outcome?: string }).outcome : 'poison';
      if (outcome === 'transient') {
        throw new Error('the model timed out');
      }
      if (outcome === 'poison') {
        throw new PoisonMessageError('no such event');
      }
    },
    deadLettered: async (body, error) => void deadLetters.push({ body, error }),
  };
}

describe('processSqsBatch', () => {
  it('reports only the transiently failed records, handling every record once, in order', async () => {
    const h = handlers();
    const log = logger();
    const event = sqsEvent('marvain-transcripts', [
      { body: { outcome: 'ok', n: 1 } },
      { body: { outcome: 'transient' } },
      { body: { outcome: 'poison' } },
      { body: { outcome: 'ok', n: 2 } },
    ]);
    const response = await processSqsBatch(event, QueueNames.Transcripts, h, QUEUE, log);

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: event.Records[1]?.messageId }] });
    expect(h.handled).toEqual([
      { outcome: 'ok', n: 1 },
      { outcome: 'transient' },
      { outcome: 'poison' },
      { outcome: 'ok', n: 2 },
    ]);
    // The poison message is recorded (logged and passed to the dead-letter hook), then acknowledged.
    expect(h.deadLetters).toEqual([{ body: { outcome: 'poison' }, error: 'PoisonMessageError: no such event' }]);
    expect(String(log.error.mock.calls[0]?.[0])).toContain(
      `message ${event.Records[2]?.messageId} dead-lettered as poison`,
    );
    // The transient failure is logged with when it comes back: after the visibility timeout.
    expect(String(log.warn.mock.calls[0]?.[0])).toMatch(/receive 1\), retrying in 60s: Error: the model timed out/);
  });

  it('passes a body that is not JSON on as the raw string, which the handler refuses as poison', async () => {
    const h = handlers();
    const response = await processSqsBatch(
      sqsEvent('q', [{ body: 'not json {' }]),
      QueueNames.Transcripts,
      h,
      QUEUE,
      logger(),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect(h.handled).toEqual(['not json {']);
    expect(h.deadLetters).toEqual([{ body: 'not json {', error: 'PoisonMessageError: no such event' }]);
  });

  it('tells the dead-letter hook about a record failing its last receive, and still reports it so SQS redrives it', async () => {
    const h = handlers();
    const event = sqsEvent('q', [
      { body: { outcome: 'transient' }, receiveCount: 2 },
      { body: { outcome: 'transient', last: true }, receiveCount: 3 },
    ]);
    const response = await processSqsBatch(event, QueueNames.Transcripts, h, QUEUE, logger());
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([
      event.Records[0]?.messageId,
      event.Records[1]?.messageId,
    ]);
    expect(h.deadLetters).toEqual([
      { body: { outcome: 'transient', last: true }, error: 'Error: the model timed out' },
    ]);
  });

  it('works without a dead-letter hook, and a failing hook fails nothing', async () => {
    const withoutHook: QueueHandlers<unknown> = { handle: () => Promise.reject(new PoisonMessageError('bad')) };
    expect(
      await processSqsBatch(sqsEvent('q', [{ body: {} }]), QueueNames.Actions, withoutHook, QUEUE, logger()),
    ).toEqual({ batchItemFailures: [] });

    const log = logger();
    const failingHook: QueueHandlers<unknown> = {
      handle: () => Promise.reject(new PoisonMessageError('bad')),
      deadLettered: () => Promise.reject(new Error('audit is down')),
    };
    expect(await processSqsBatch(sqsEvent('q', [{ body: {} }]), QueueNames.Actions, failingHook, QUEUE, log)).toEqual({
      batchItemFailures: [],
    });
    expect(String(log.error.mock.calls.at(-1)?.[0])).toMatch(/recording dead letter .* failed: Error: audit is down/);
  });

  it('answers an empty batch with no failures', async () => {
    expect(await processSqsBatch({ Records: [] }, QueueNames.Actions, handlers(), QUEUE, logger())).toEqual({
      batchItemFailures: [],
    });
  });
});
