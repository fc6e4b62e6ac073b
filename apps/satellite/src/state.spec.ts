import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CommandLog, Outbox, OutboxFullError, readState, StateStore, type CommandReply } from './state';

const SPACE = '0b6f3c3e-6d3f-4d59-9a53-2f1c8a0e7d11';

describe('satellite state: outbox and command log', () => {
  let dir: string;
  let file: string;
  const open = (): StateStore => new StateStore(file, readState(file));
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'marvain-satellite-state-'));
    file = path.join(dir, 'satellite-state.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps queued lines across a restart, in order, each with its own client_event_id until acknowledged', () => {
    const outbox = new Outbox(open());
    const first = outbox.enqueue(SPACE, 'turn on the lights');
    const second = outbox.enqueue(SPACE, 'and the heating');
    expect(first.client_event_id).not.toBe(second.client_event_id);

    const reopened = new Outbox(open());
    expect(reopened.size).toBe(2);
    expect(reopened.peek()).toEqual(first);
    expect(reopened.remove(first.client_event_id)).toBe(true);
    expect(reopened.remove(first.client_event_id)).toBe(false);
    expect(new Outbox(open()).peek()).toEqual(second);
  });

  it('refuses a line when full (by lines or by bytes) and keeps every earlier one', () => {
    const byLines = new Outbox(open(), { maxEntries: 3, maxBytes: 1024 * 1024 });
    for (const text of ['one', 'two', 'three']) {
      byLines.enqueue(SPACE, text);
    }
    expect(() => byLines.enqueue(SPACE, 'four')).toThrow(OutboxFullError);
    expect(() => byLines.enqueue(SPACE, 'four')).toThrow(/outbox is full \(3 lines.*line refused, nothing queued/);
    expect(new Outbox(open()).size).toBe(3);

    rmSync(file);
    const byBytes = new Outbox(open(), { maxEntries: 1000, maxBytes: 1000 });
    byBytes.enqueue(SPACE, 'x'.repeat(600));
    expect(() => byBytes.enqueue(SPACE, 'y'.repeat(600))).toThrow(OutboxFullError);
    expect(byBytes.size).toBe(1);
    // Room again once the hub took the first.
    byBytes.remove(byBytes.peek()!.client_event_id);
    expect(byBytes.enqueue(SPACE, 'y'.repeat(600)).text).toHaveLength(600);
  });

  it('remembers each command and its reply, so a redelivery finds it; confirmed replies drop their output', () => {
    const log = new CommandLog(open());
    log.begin('c1', 'run_action');
    const reply: CommandReply = { type: 'cmd.result', command_id: 'c1', ok: true, result: { stdout: 'up 3 days' } };
    log.finish('c1', reply);
    expect(log.unacked()).toEqual([reply]);

    const reopened = new CommandLog(open());
    expect(reopened.get('c1')).toMatchObject({ status: 'answered', reply, acked: false });
    reopened.ack('c1');
    expect(reopened.unacked()).toEqual([]);
    expect(new CommandLog(open()).get('c1')).toMatchObject({
      acked: true,
      reply: { type: 'cmd.result', command_id: 'c1', ok: true },
    });
    expect(new CommandLog(open()).get('c1')?.reply).not.toHaveProperty('result');
  });

  it('reports a command still running at start-up as interrupted', () => {
    new CommandLog(open()).begin('c2', 'run_action');
    expect(new CommandLog(open()).interrupted().map((r) => r.command_id)).toEqual(['c2']);
  });

  it('is bounded: the oldest confirmed records go first, a running command is never forgotten', () => {
    const log = new CommandLog(open(), 3);
    log.begin('running', 'run_action');
    for (const id of ['a', 'b', 'c', 'd']) {
      log.begin(id, 'ping');
      log.finish(id, { type: 'cmd.result', command_id: id, ok: true });
    }
    log.ack('c');
    expect(log.size).toBe(3);
    expect(log.get('running')).toBeDefined();
    log.begin('e', 'ping');
    expect(log.size).toBe(3);
    expect(log.get('c')).toBeUndefined(); // the acked one went first
    expect(log.get('running')).toBeDefined();
  });

  it('sets an unreadable state file aside and starts afresh, saying so', () => {
    writeFileSync(file, '{not json');
    const warnings: string[] = [];
    const state = readState(file, (line) => warnings.push(line));
    expect(state.outbox).toEqual([]);
    expect(warnings[0]).toMatch(/unreadable .* moved to .*unreadable-/);
  });
});
