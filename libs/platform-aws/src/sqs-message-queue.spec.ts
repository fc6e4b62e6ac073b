import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  SQSServiceException,
} from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { QueueNames } from '@marvain/contracts';
import type { Tx } from '@marvain/db';
import { SqsMessageQueue, toReceivedMessage } from './sqs-message-queue';

const TRANSCRIPTS_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-transcripts';
const ACTIONS_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-actions';
const ACTIONS_DLQ_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-actions-dlq';

const sqs = mockClient(SQSClient);

/** Every command the client was asked to send, in order, by class name with its exact input. */
function sent(): Array<{ command: string; input: unknown }> {
  return sqs.calls().map((call) => ({ command: call.args[0].constructor.name, input: call.args[0].input }));
}

function queue(options: Partial<ConstructorParameters<typeof SqsMessageQueue>[1]> = {}): SqsMessageQueue {
  return new SqsMessageQueue(() => new SQSClient({ region: 'eu-west-1' }), {
    queueUrls: { transcripts: TRANSCRIPTS_URL, actions: ACTIONS_URL },
    maxReceives: 5,
    ...options,
  });
}

/** A transaction stand-in that records afterCommit callbacks and runs them on commit(). */
function fakeTx(): Tx & { commit(): void } {
  const callbacks: Array<() => void | Promise<void>> = [];
  return {
    db: undefined as never,
    afterCommit: (callback) => void callbacks.push(callback),
    commit: () => {
      for (const callback of callbacks) {
        void callback();
      }
    },
  };
}

const message = (receiveCount: number, body: unknown = { action_id: 'a-1' }) => ({
  id: 'msg-1',
  receipt: `receipt-${receiveCount}`,
  body,
  receiveCount,
});

describe('SqsMessageQueue', () => {
  beforeEach(() => {
    sqs.reset();
  });

  describe('send', () => {
    it('sends the JSON body to the queue URL with the idempotency key as a String attribute', async () => {
      sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
      await queue().send(QueueNames.Transcripts, { event_id: 'e-1', agent_id: 'a-1' }, { dedupKey: 'event:e-1' });
      expect(sent()).toStrictEqual([
        {
          command: 'SendMessageCommand',
          input: {
            QueueUrl: TRANSCRIPTS_URL,
            MessageBody: '{"event_id":"e-1","agent_id":"a-1"}',
            DelaySeconds: 0,
            MessageAttributes: { idempotency_key: { DataType: 'String', StringValue: 'event:e-1' } },
          },
        },
      ]);
    });

    it('sends without message attributes when there is no key, to the URL of the queue named', async () => {
      await queue().send(QueueNames.Actions, { action_id: 'x' }, { delaySeconds: 12.4 });
      expect(sent()).toStrictEqual([
        {
          command: 'SendMessageCommand',
          input: { QueueUrl: ACTIONS_URL, MessageBody: '{"action_id":"x"}', DelaySeconds: 12 },
        },
      ]);
    });

    it('keeps the delay within what SQS accepts (0 to 900 seconds)', async () => {
      await queue().send(QueueNames.Actions, {}, { delaySeconds: 3600 });
      await queue().send(QueueNames.Actions, {}, { delaySeconds: -5 });
      expect(sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input.DelaySeconds)).toEqual([900, 0]);
    });

    it('sends at once even inside a transaction (before its commit), and tells listeners only after the commit', async () => {
      const q = queue();
      const heard: string[] = [];
      q.onSent((name) => heard.push(name));
      const tx = fakeTx();
      await q.send(QueueNames.Transcripts, { event_id: 'e-1' }, { tx, dedupKey: 'event:e-1' });
      expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1);
      expect(heard).toEqual([]);
      tx.commit();
      expect(heard).toEqual(['transcripts']);
    });

    it('tells listeners at once after a send outside a transaction', async () => {
      const q = queue();
      const heard: string[] = [];
      q.onSent((name) => heard.push(name));
      await q.send(QueueNames.Actions, { action_id: 'x' });
      expect(heard).toEqual(['actions']);
    });

    it('fails the send (so the caller rolls back) and tells no listener when SQS refuses it', async () => {
      sqs
        .on(SendMessageCommand)
        .rejects(
          new SQSServiceException({ name: 'QueueDoesNotExist', $fault: 'client', $metadata: {}, message: 'no queue' }),
        );
      const q = queue();
      const heard: string[] = [];
      q.onSent((name) => heard.push(name));
      const tx = fakeTx();
      await expect(q.send(QueueNames.Actions, {}, { tx })).rejects.toThrow('no queue');
      tx.commit();
      expect(heard).toEqual([]);
    });

    it('refuses a queue name without a configured URL, sending nothing', async () => {
      const q = queue({ queueUrls: { transcripts: TRANSCRIPTS_URL } as never });
      await expect(q.send(QueueNames.Actions, {})).rejects.toThrow(/no SQS queue URL.*actions/);
      expect(sent()).toEqual([]);
    });
  });

  describe('receive', () => {
    it('asks for at most 10 messages with the visibility timeout, the receive count and all message attributes', async () => {
      sqs.on(ReceiveMessageCommand).resolves({});
      expect(await queue().receive(QueueNames.Transcripts, { max: 25, visibilityTimeoutSeconds: 30 })).toEqual([]);
      expect(sent()).toStrictEqual([
        {
          command: 'ReceiveMessageCommand',
          input: {
            QueueUrl: TRANSCRIPTS_URL,
            MaxNumberOfMessages: 10,
            VisibilityTimeout: 30,
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
            MessageAttributeNames: ['All'],
          },
        },
      ]);
    });

    it('maps each message: id, receipt handle, parsed body and receive count', async () => {
      sqs.on(ReceiveMessageCommand).resolves({
        Messages: [
          {
            MessageId: 'm-1',
            ReceiptHandle: 'rh-1',
            Body: '{"event_id":"e-1"}',
            Attributes: { ApproximateReceiveCount: '3' },
          },
          { MessageId: 'm-2', ReceiptHandle: 'rh-2', Body: 'not json', Attributes: { ApproximateReceiveCount: '1' } },
        ],
      });
      expect(await queue().receive(QueueNames.Transcripts, { max: 2, visibilityTimeoutSeconds: 60 })).toStrictEqual([
        { id: 'm-1', receipt: 'rh-1', body: { event_id: 'e-1' }, receiveCount: 3 },
        { id: 'm-2', receipt: 'rh-2', body: 'not json', receiveCount: 1 },
      ]);
      expect(sqs.commandCalls(ReceiveMessageCommand)[0]!.args[0].input).toMatchObject({
        MaxNumberOfMessages: 2,
        VisibilityTimeout: 60,
      });
    });
  });

  it('ack deletes the message by its receipt handle', async () => {
    await queue().ack(QueueNames.Actions, message(2));
    expect(sent()).toStrictEqual([
      { command: 'DeleteMessageCommand', input: { QueueUrl: ACTIONS_URL, ReceiptHandle: 'receipt-2' } },
    ]);
  });

  describe('retry', () => {
    it('hides the message for the delay and reports retrying while receives remain', async () => {
      expect(await queue().retry(QueueNames.Transcripts, message(4), { delaySeconds: 8, error: 'Error: boom' })).toBe(
        'retrying',
      );
      expect(sent()).toStrictEqual([
        {
          command: 'ChangeMessageVisibilityCommand',
          input: { QueueUrl: TRANSCRIPTS_URL, ReceiptHandle: 'receipt-4', VisibilityTimeout: 8 },
        },
      ]);
    });

    it('reports dead from the last allowed receive on, leaving the move to the redrive policy', async () => {
      expect(await queue().retry(QueueNames.Transcripts, message(5), { delaySeconds: 16, error: 'Error: boom' })).toBe(
        'dead',
      );
      expect(
        await queue({ maxReceives: 3 }).retry(QueueNames.Transcripts, message(7), { delaySeconds: 300, error: 'x' }),
      ).toBe('dead');
      expect(sent().map((call) => call.command)).toEqual([
        'ChangeMessageVisibilityCommand',
        'ChangeMessageVisibilityCommand',
      ]);
      expect(sqs.commandCalls(DeleteMessageCommand)).toHaveLength(0);
      expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    });

    it('keeps the visibility change within 12 hours', async () => {
      await queue().retry(QueueNames.Transcripts, message(1), { delaySeconds: 100_000, error: 'x' });
      expect(sqs.commandCalls(ChangeMessageVisibilityCommand)[0]!.args[0].input.VisibilityTimeout).toBe(43_200);
    });
  });

  describe('deadLetter', () => {
    it('copies the message to the configured dead-letter queue with the error, then deletes it', async () => {
      const q = queue({ deadLetterQueueUrls: { actions: ACTIONS_DLQ_URL } });
      await q.deadLetter(QueueNames.Actions, message(1), 'PoisonMessageError: action a-1 does not exist');
      expect(sent()).toStrictEqual([
        {
          command: 'SendMessageCommand',
          input: {
            QueueUrl: ACTIONS_DLQ_URL,
            MessageBody: '{"action_id":"a-1"}',
            MessageAttributes: {
              dead_letter_error: { DataType: 'String', StringValue: 'PoisonMessageError: action a-1 does not exist' },
              source_queue: { DataType: 'String', StringValue: 'actions' },
              source_message_id: { DataType: 'String', StringValue: 'msg-1' },
              receive_count: { DataType: 'Number', StringValue: '1' },
            },
          },
        },
        { command: 'DeleteMessageCommand', input: { QueueUrl: ACTIONS_URL, ReceiptHandle: 'receipt-1' } },
      ]);
    });

    it('copies a body that was not JSON byte for byte, and cuts a long error', async () => {
      const q = queue({ deadLetterQueueUrls: { actions: ACTIONS_DLQ_URL } });
      await q.deadLetter(QueueNames.Actions, message(1, 'not json'), 'e'.repeat(5000));
      const input = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
      expect(input.MessageBody).toBe('not json');
      expect(input.MessageAttributes?.['dead_letter_error']?.StringValue).toBe('e'.repeat(2000));
    });

    it('keeps the message when copying it fails', async () => {
      sqs.on(SendMessageCommand).rejects(new Error('throttled'));
      const q = queue({ deadLetterQueueUrls: { actions: ACTIONS_DLQ_URL } });
      await expect(q.deadLetter(QueueNames.Actions, message(1), 'x')).rejects.toThrow('throttled');
      expect(sqs.commandCalls(DeleteMessageCommand)).toHaveLength(0);
    });

    it('does nothing without a dead-letter queue for that queue: the redrive policy moves it', async () => {
      const q = queue({ deadLetterQueueUrls: { actions: ACTIONS_DLQ_URL } });
      await q.deadLetter(QueueNames.Transcripts, message(1), 'x');
      await queue().deadLetter(QueueNames.Actions, message(1), 'x');
      expect(sent()).toEqual([]);
    });
  });
});

describe('toReceivedMessage', () => {
  const record = (overrides: Partial<SQSRecord> = {}): SQSRecord => ({
    messageId: '059f36b4-87a3-44ab-83d2-661975830a7d',
    receiptHandle: 'AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a',
    body: '{"event_id":"e-1","agent_id":"a-1"}',
    attributes: {
      ApproximateReceiveCount: '2',
      SentTimestamp: '1545082649183',
      SenderId: 'AIDAIENQZJOLO23YVJ4VO',
      ApproximateFirstReceiveTimestamp: '1545082649185',
    },
    messageAttributes: {
      idempotency_key: { stringValue: 'event:e-1', dataType: 'String', stringListValues: [], binaryListValues: [] },
    },
    md5OfBody: 'e4e68fb7bd0e697a0ae8f1bb342846b3',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:marvain-transcripts',
    awsRegion: 'eu-west-1',
    ...overrides,
  });

  it('maps an SQS event record to the message the consumers process', () => {
    expect(toReceivedMessage(record())).toStrictEqual({
      id: '059f36b4-87a3-44ab-83d2-661975830a7d',
      receipt: 'AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a',
      body: { event_id: 'e-1', agent_id: 'a-1' },
      receiveCount: 2,
    });
  });

  it('passes a body that is not JSON on as the raw string, for the handler to reject as poison', () => {
    expect(toReceivedMessage(record({ body: '{truncated' })).body).toBe('{truncated');
  });

  it('counts a record without a usable receive count as its first receive', () => {
    expect(
      toReceivedMessage(record({ attributes: { ...record().attributes, ApproximateReceiveCount: '' } })).receiveCount,
    ).toBe(1);
    expect(
      toReceivedMessage(record({ attributes: { ...record().attributes, ApproximateReceiveCount: 'x' } })).receiveCount,
    ).toBe(1);
  });
});
