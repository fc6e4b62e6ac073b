import { randomUUID } from 'node:crypto';
import { ErrorCode, WsCloseCode, type ClientMessageType } from '@marvain/contracts';
import { asJson, asUuid } from '@marvain/db';
import { testDatabaseKind } from '@marvain/db/testing';
import type { BootstrapResult } from '@marvain/identity';
import { LocalWebSocketServer } from '@marvain/realtime';
import { HubSocket, type Reply } from './testing/hub-socket';
import { startHubProcess, type HubProcess } from './testing/hub-process';
import { openHubTestServer, type HubTestServer } from './testing/hub-test-server';
import { encodeFrame, jsonFrame, RawWebSocket } from './testing/raw-websocket';

// Opening the hub on a fresh database takes seconds on a busy machine.
jest.setTimeout(120_000);

/*
 * Bad input over the WebSocket: malformed JSON, unknown verbs, and every field of every verb
 * given a value of the wrong type or out of range. Each one answers an `error` with a stable code
 * (never `internal`), echoing the message's id; the hub stays up and serves the next client.
 *
 * The cases come from FIELDS, one entry per verb (a verb added to ClientMessage without one does
 * not compile), so a new field is swept by adding it there.
 */

/** Under the 64 KiB frame limit with the rest of the message: big, but refused for its content. */
const HUGE_STRING = 'x'.repeat(60_000);

/** The code of an error reply, or the reply's type: what the sweep compares. */
const outcome = (reply: Reply): string => (reply.type === 'error' ? `error ${reply.error.code}` : reply.type);
const refused = (code: ErrorCode): string => `error ${code}`;

type FieldKind =
  | 'token'
  | 'uuid'
  | 'text'
  | 'eventType'
  | 'payload'
  | 'clientEventId'
  | 'topics'
  | 'seq'
  | 'limit'
  | 'cursor'
  | 'actionStatus'
  | 'presenceStatus'
  | 'boolean'
  | 'object';

interface Field {
  kind: FieldKind;
  /** A value the hub accepts, for the valid base message. */
  valid: (ctx: Context) => unknown;
}

interface Context {
  home: BootstrapResult;
  actionId: string;
  /** A command of the home device, for its `cmd.result` to name. */
  commandId: string;
}

/** Values of the wrong JSON type for a field of `kind`. */
function wrongTypes(kind: FieldKind): Array<[string, unknown]> {
  const all: Array<[string, unknown]> = [
    ['null', null],
    ['a number', 42],
    ['a boolean', true],
    ['an array', ['x']],
    ['an object', { nested: 'x' }],
    ['a string', 'x'],
  ];
  const own: Record<FieldKind, string> = {
    token: 'a string',
    uuid: 'a string',
    text: 'a string',
    eventType: 'a string',
    clientEventId: 'a string',
    cursor: 'a string',
    actionStatus: 'a string',
    presenceStatus: 'a string',
    payload: 'an object',
    object: 'an object',
    boolean: 'a boolean',
    topics: 'an array',
    seq: 'a number',
    limit: 'a number',
  };
  return all.filter(([label]) => label !== own[kind] && !(label === 'a string' && kind === 'topics'));
}

/** Values of the right type the field still refuses. */
function outOfRange(kind: FieldKind): Array<[string, unknown]> {
  switch (kind) {
    case 'token':
      return [['an empty token', '']];
    case 'uuid':
      return [
        ['not a uuid', 'not-a-uuid'],
        ['a huge string', HUGE_STRING],
        ['a uuid with a NUL', `${randomUUID()}\u0000`],
      ];
    case 'text':
      return [
        ['an empty text', ''],
        ['a text with a NUL', 'a\u0000b'],
        ['a lone surrogate', 'a\ud800b'],
      ];
    case 'eventType':
      return [
        ['an upper-case type', 'NOTE'],
        ['an empty type', ''],
        ['a huge type', HUGE_STRING],
      ];
    case 'clientEventId':
      return [
        ['an empty id', ''],
        ['a huge id', HUGE_STRING],
      ];
    case 'topics':
      return [
        ['an unknown topic', ['events.deleted']],
        ['a topic that is not a string', [42]],
        ['a topic with a NUL', ['events.new\u0000']],
        ['a huge topic', [HUGE_STRING]],
      ];
    case 'seq':
      return [
        ['a negative seq', -1],
        ['a fractional seq', 1.5],
        ['a seq past 2^53', 2 ** 64],
        ['1e308', 1e308],
        ['a numeric string', '5'],
      ];
    case 'limit':
      return [
        ['zero', 0],
        ['a negative limit', -1],
        ['a fractional limit', 2.5],
        ['a limit past the maximum', 1e9],
        ['a numeric string', '10'],
      ];
    case 'cursor':
      return [
        ['a cursor that was never handed out', 'not-a-cursor'],
        ['a huge cursor', HUGE_STRING],
      ];
    case 'actionStatus':
      return [['an unknown status', 'exploded']];
    case 'presenceStatus':
      return [
        ['offline (a heartbeat cannot say it)', 'offline'],
        ['an unknown status', 'asleep'],
      ];
    case 'payload':
    case 'object':
    case 'boolean':
      return [];
  }
}

/**
 * Every verb's fields (paths into the message; `event.x` is a field of `event`) and a valid value
 * of each. The valid message is the verb with every field set.
 */
const FIELDS = {
  hello: { token: { kind: 'token', valid: (c) => c.home.user_token } },
  ping: {},
  heartbeat: {
    status: { kind: 'presenceStatus', valid: () => 'online' },
    space_id: { kind: 'uuid', valid: (c) => c.home.space_id },
  },
  send_event: {
    event: {
      kind: 'object',
      valid: (c) => ({ space_id: c.home.space_id, type: 'note', payload: { text: 'hi' } }),
    },
    'event.space_id': { kind: 'uuid', valid: (c) => c.home.space_id },
    'event.type': { kind: 'eventType', valid: () => 'note' },
    'event.payload': { kind: 'payload', valid: () => ({ text: 'hi' }) },
    'event.client_event_id': { kind: 'clientEventId', valid: () => randomUUID() },
    'event.agent_id': { kind: 'uuid', valid: (c) => c.home.agent_id },
  },
  push_transcript: {
    space_id: { kind: 'uuid', valid: (c) => c.home.space_id },
    text: { kind: 'text', valid: () => 'hello there' },
    client_event_id: { kind: 'clientEventId', valid: () => randomUUID() },
  },
  subscribe: {
    agent_id: { kind: 'uuid', valid: (c) => c.home.agent_id },
    space_id: { kind: 'uuid', valid: (c) => c.home.space_id },
    topics: { kind: 'topics', valid: () => ['events.new'] },
    from_seq: { kind: 'seq', valid: () => 1 },
  },
  unsubscribe: { agent_id: { kind: 'uuid', valid: (c) => c.home.agent_id } },
  subscribe_presence: {
    agent_id: { kind: 'uuid', valid: (c) => c.home.agent_id },
    space_id: { kind: 'uuid', valid: (c) => c.home.space_id },
  },
  list_actions: {
    agent_id: { kind: 'uuid', valid: (c) => c.home.agent_id },
    status: { kind: 'actionStatus', valid: () => 'proposed' },
    limit: { kind: 'limit', valid: () => 10 },
    cursor: { kind: 'cursor', valid: () => undefined },
  },
  approve_action: { action_id: { kind: 'uuid', valid: (c) => c.actionId } },
  reject_action: {
    action_id: { kind: 'uuid', valid: (c) => c.actionId },
    reason: { kind: 'text', valid: () => 'not now' },
  },
  'cmd.result': {
    command_id: { kind: 'uuid', valid: (c) => c.commandId },
    ok: { kind: 'boolean', valid: () => true },
    result: { kind: 'object', valid: () => ({ pong: true }) },
    // Only with ok: false; the valid message leaves it out, its wrong types are still swept.
    error: { kind: 'object', valid: () => undefined },
  },
} satisfies Record<ClientMessageType, Record<string, Field>>;

interface Case {
  label: string;
  verb: ClientMessageType;
  message: Record<string, unknown>;
}

function setPath(message: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(message);
  const parts = path.split('.');
  let target = copy;
  for (const part of parts.slice(0, -1)) {
    target = target[part] as Record<string, unknown>;
  }
  target[parts.at(-1) as string] = value;
  return copy;
}

function validMessage(verb: ClientMessageType, ctx: Context): Record<string, unknown> {
  let message: Record<string, unknown> = { type: verb };
  for (const [path, field] of Object.entries(FIELDS[verb] as Record<string, Field>)) {
    const value = field.valid(ctx);
    if (value !== undefined && !path.includes('.')) {
      message = setPath(message, path, value);
    }
  }
  return message;
}

function cases(ctx: Context): Case[] {
  const all: Case[] = [];
  for (const verb of Object.keys(FIELDS) as ClientMessageType[]) {
    const base = validMessage(verb, ctx);
    for (const [path, field] of Object.entries(FIELDS[verb] as Record<string, Field>)) {
      for (const [label, value] of [...wrongTypes(field.kind), ...outOfRange(field.kind)]) {
        all.push({ label: `${verb}.${path} as ${label}`, verb, message: setPath(base, path, value) });
      }
    }
  }
  return all;
}

/** Verbs only a device sends (the rest are swept as the owner). */
const DEVICE_VERBS: readonly ClientMessageType[] = ['heartbeat', 'cmd.result'];

/** Frames that are not a message of the protocol at all. */
const NOT_MESSAGES: Array<[string, string]> = [
  ['an unterminated object', '{"type":"ping"'],
  ['plain text', 'hello hub'],
  ['an empty frame', ''],
  ['JSON null', 'null'],
  ['a JSON array', '[{"type":"ping"}]'],
  ['a JSON string', '"ping"'],
  ['a JSON number', '42'],
  ['an object without a type', '{"id":"x"}'],
  ['a numeric type', '{"type":42}'],
  ['a null type', '{"type":null}'],
  ['an array type', '{"type":["ping"]}'],
  ['deeply nested JSON', `${'['.repeat(5000)}${']'.repeat(5000)}`],
];

const UNKNOWN_VERBS = [
  'PING',
  'ping ',
  'delete_everything',
  'stream',
  'hello_ok',
  'error',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'x'.repeat(10_000),
];

/** Sockets that say hello as one principal, replaced before the rate limit's burst runs out. */
class Sweeper {
  private socket: HubSocket | null = null;
  private sent = 0;

  constructor(
    private readonly base: string,
    private readonly token: string | undefined,
  ) {}

  async ask(message: Record<string, unknown> | string): Promise<Reply> {
    if (!this.socket || this.sent >= 60) {
      await this.socket?.close();
      this.socket = await HubSocket.open(this.base, this.token);
      this.sent = 0;
    }
    this.sent += 1;
    if (typeof message === 'string') {
      // A frame that is not a message has no id to echo: the reply is the next message.
      const before = this.socket.received.length;
      this.socket.send(message);
      return this.socket.next((m) => this.socket!.received.indexOf(m) >= before, 'the reply');
    }
    const socket = this.socket;
    const before = socket.received.length;
    try {
      return await socket.request(message);
    } catch {
      // No reply echoing the id: a fresh socket for the next case; the spec reports this one.
      socket.terminate();
      this.socket = null;
      const unechoed = socket.received.slice(before).filter((m) => m.id === undefined);
      return {
        type: 'error',
        error: { code: `no reply with the id; other replies: ${JSON.stringify(unechoed).slice(0, 300)}`, message: '' },
      };
    }
  }

  async close(): Promise<void> {
    await this.socket?.close();
  }
}

describe(`bad input over the WebSocket (${testDatabaseKind()})`, () => {
  let hub: HubTestServer;
  let ctx: Context;

  beforeAll(async () => {
    hub = await openHubTestServer({
      beforeListen: (app) => app.get(LocalWebSocketServer).attach(app.getHttpServer()),
    });
    const home = await hub.bootstrap();
    // A proposed action, for approve/reject to name.
    const actionId = randomUUID();
    await hub.kysely
      .insertInto('actions')
      .values({
        action_id: asUuid(actionId),
        agent_id: asUuid(home.agent_id),
        space_id: asUuid(home.space_id),
        kind: 'send_message',
        payload: asJson({ text: 'hello' }),
        required_scopes: asJson(['messages:send']),
        status: 'proposed',
        reason: 'bad input',
      })
      .execute();
    // A command of the home device, for cmd.result to answer (sent by the device, as only it may).
    const command = await hub.call('POST', `/v1/devices/${home.device_id}/commands`, home.user_token, { kind: 'ping' });
    ctx = { home, actionId, commandId: (command.json as { command_id: string }).command_id };
  });
  afterAll(async () => {
    await hub.app.get(LocalWebSocketServer).close();
    await hub.close();
  });

  async function expectServing(): Promise<void> {
    const fresh = await HubSocket.open(hub.base, ctx.home.device_token);
    expect(await fresh.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    await fresh.close();
  }

  it('accepts the valid message of every verb the sweep bends (so each refusal is the bent field)', async () => {
    const device = new Sweeper(hub.base, ctx.home.device_token);
    const owner = new Sweeper(hub.base, ctx.home.user_token);
    const unauthenticated = new Sweeper(hub.base, undefined);
    const answers: Record<string, string> = {};
    for (const verb of Object.keys(FIELDS) as ClientMessageType[]) {
      // approve and reject are left for last: either one ends the action's proposal.
      if (verb === 'approve_action' || verb === 'reject_action') {
        continue;
      }
      const sweeper = verb === 'hello' ? unauthenticated : DEVICE_VERBS.includes(verb) ? device : owner;
      const reply = await sweeper.ask(validMessage(verb, ctx));
      answers[verb] = reply.type === 'error' ? outcome(reply) : 'ok';
    }
    const approved = await owner.ask(validMessage('approve_action', ctx));
    answers['approve_action'] = approved.type === 'error' ? outcome(approved) : 'ok';
    await Promise.all([device.close(), owner.close(), unauthenticated.close()]);
    expect(answers).toEqual(
      Object.fromEntries(
        Object.keys(FIELDS)
          .filter((v) => v !== 'reject_action')
          .map((v) => [v, 'ok']),
      ),
    );
  });

  it('refuses every field of every verb given a wrong type or a value out of range: validation_failed, echoing the id', async () => {
    const device = new Sweeper(hub.base, ctx.home.device_token);
    const owner = new Sweeper(hub.base, ctx.home.user_token);
    const unauthenticated = new Sweeper(hub.base, undefined);
    const wrong: string[] = [];
    const all = cases(ctx);
    for (const { label, verb, message } of all) {
      const sweeper = verb === 'hello' ? unauthenticated : DEVICE_VERBS.includes(verb) ? device : owner;
      const reply = await sweeper.ask(message);
      if (outcome(reply) !== refused(ErrorCode.ValidationFailed)) {
        wrong.push(`${label}: ${JSON.stringify(reply).slice(0, 300)}`);
      }
      if (JSON.stringify(reply).length > 2000) {
        wrong.push(`${label}: a reply of ${JSON.stringify(reply).length} characters (the bad value echoed?)`);
      }
    }
    await Promise.all([device.close(), owner.close(), unauthenticated.close()]);
    expect(wrong).toEqual([]);
    expect(all.length).toBeGreaterThan(150);
    // None of them wrote anything: the action is still only proposed.
    const action = await hub.call('GET', `/v1/actions/${ctx.actionId}`, ctx.home.user_token);
    expect(action.json).toMatchObject({ status: expect.stringMatching(/^(proposed|approved|executing|executed)$/) });
    await expectServing();
  });

  it.each(['before hello', 'after hello'])(
    'answers frames that are not protocol messages, and unknown verbs, with validation_failed (%s)',
    async (when) => {
      const sweeper = new Sweeper(hub.base, when === 'after hello' ? ctx.home.user_token : undefined);
      const wrong: string[] = [];
      for (const [label, frame] of NOT_MESSAGES) {
        const reply = await sweeper.ask(frame);
        if (outcome(reply) !== refused(ErrorCode.ValidationFailed)) {
          wrong.push(`${label}: ${JSON.stringify(reply).slice(0, 300)}`);
        }
      }
      for (const verb of UNKNOWN_VERBS) {
        const reply = await sweeper.ask({ type: verb });
        const expected = when === 'after hello' ? ErrorCode.ValidationFailed : ErrorCode.Unauthenticated;
        if (outcome(reply) !== refused(expected)) {
          wrong.push(`${verb.slice(0, 20)}: ${JSON.stringify(reply).slice(0, 300)}`);
        }
        if (JSON.stringify(reply).length > 1000) {
          wrong.push(`${verb.slice(0, 20)}: the reply echoes the whole verb`);
        }
      }
      await sweeper.close();
      expect(wrong).toEqual([]);
      await expectServing();
    },
  );

  it('refuses a binary frame (unsupported_media_type) and closes an oversized one with 1009; a fresh client still gets hello_ok', async () => {
    const binary = await RawWebSocket.open(hub.base);
    binary.send(encodeFrame({ opcode: 0x2, payload: JSON.stringify({ type: 'ping', id: 'b' }) }));
    expect(await binary.message((m) => m['type'] === 'error')).toMatchObject({
      error: { code: ErrorCode.UnsupportedMediaType },
    });
    binary.destroy();

    const oversized = await RawWebSocket.open(hub.base);
    oversized.send(jsonFrame({ type: 'send_event', event: { payload: { text: 'x'.repeat(70 * 1024) } } }));
    expect((await oversized.closed()).code).toBe(WsCloseCode.MessageTooBig);
    oversized.destroy();
    await expectServing();
  });

  it('answers a flood of bad frames with error codes (never internal), closes the flooder with 1008, and serves a fresh client', async () => {
    const flooder = await RawWebSocket.open(hub.base);
    flooder.send(jsonFrame({ type: 'hello', id: 'h', token: ctx.home.user_token }));
    await flooder.message((m) => m['id'] === 'h');
    const bad = cases(ctx).filter((c) => c.verb !== 'hello');
    flooder.send(
      Buffer.concat(
        Array.from({ length: 400 }, (_, i) => {
          const pick = i % 3;
          return pick === 0
            ? encodeFrame({ opcode: 0x1, payload: '{"type":' })
            : pick === 1
              ? jsonFrame({ ...bad[i % bad.length]!.message, id: `f${i}` })
              : jsonFrame({ type: 'no_such_verb', id: `f${i}` });
        }),
      ),
    );
    expect((await flooder.closed()).code).toBe(WsCloseCode.PolicyViolation);
    const replies = flooder.messages().slice(1) as Reply[];
    expect(replies.length).toBeGreaterThan(0);
    const outcomes = new Set(replies.map(outcome));
    outcomes.delete(refused(ErrorCode.ValidationFailed));
    outcomes.delete(refused(ErrorCode.RateLimited));
    expect([...outcomes]).toEqual([]);
    flooder.destroy();
    await expectServing();
  });
});

/** How far the hub's resident memory may rise while it refuses bad input (as websocket-memory.e2e.spec.ts). */
const RSS_BUDGET_BYTES = 48 * 1024 * 1024;
const MiB = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

describe('a real hub process swept with bad input on many sockets', () => {
  let hub: HubProcess;

  beforeAll(async () => {
    hub = await startHubProcess();
  }, 180_000);
  afterAll(async () => {
    await hub.stop();
  });

  it(`stays within ${MiB(RSS_BUDGET_BYTES)} of its idle memory and keeps serving`, async () => {
    const { user_token: token, agent_id: agentId } = await hub.credentials();
    const warm = await HubSocket.open(hub.url, token);
    await warm.close();
    const idle = hub.rssBytes();
    const samples: number[] = [];
    // Big wrong-typed frames, each refused, on socket after socket (each within the rate limit's burst).
    const frames = [
      { type: 'subscribe', agent_id: agentId, topics: [HUGE_STRING] },
      { type: 'send_event', event: { space_id: HUGE_STRING, type: 'note', payload: {} } },
      { type: 'list_actions', agent_id: agentId, cursor: HUGE_STRING },
      { type: HUGE_STRING },
    ];
    for (let round = 0; round < 40; round++) {
      const socket = await RawWebSocket.open(hub.url);
      socket.send(jsonFrame({ type: 'hello', id: 'h', token }));
      await socket.message((m) => m['id'] === 'h');
      socket.send(
        Buffer.concat(Array.from({ length: 80 }, (_, i) => jsonFrame({ ...frames[i % frames.length], id: `b${i}` }))),
      );
      await socket.message((m) => m['id'] === 'b79');
      // A client's close, answered before the next socket opens (a principal's sockets are capped).
      socket.send(encodeFrame({ opcode: 0x8, payload: Buffer.from([0x03, 0xe8]) }));
      await socket.closed();
      socket.destroy();
      samples.push(hub.rssBytes());
    }
    const fresh = await HubSocket.open(hub.url, token);
    expect(await fresh.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    await fresh.close();
    const report = { idle: MiB(idle), peak: MiB(Math.max(...samples)), last: MiB(samples.at(-1) as number) };
    expect({ ...report, within: Math.max(...samples) - idle <= RSS_BUDGET_BYTES }).toEqual({ ...report, within: true });
    expect(hub.running()).toBe(true);
  }, 180_000);
});
