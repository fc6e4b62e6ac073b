import { randomUUID } from 'node:crypto';
import { readFileSync, renameSync } from 'node:fs';
import type { CommandError } from '@marvain/contracts';
import { writePrivateFileAtomic } from './config';

/** A typed line waiting for the hub's `event_ack`. */
export interface OutboxEntry {
  client_event_id: string;
  space_id: string;
  text: string;
  queued_at: string;
}

/** The `cmd.result` the satellite sent (or will send) for a command. */
export interface CommandReply {
  type: 'cmd.result';
  command_id: string;
  ok: boolean;
  result?: Record<string, unknown>;
  error?: CommandError;
}

/** A command the satellite was handed: what it answered, and whether the hub confirmed it. */
export interface CommandRecord {
  command_id: string;
  kind: string;
  received_at: string;
  /** `running` until the reply is known; a record still running when the daemon starts was interrupted. */
  status: 'running' | 'answered';
  reply: CommandReply | null;
  /** The hub answered `cmd.result_ok`: no need to send it again (its result is dropped to keep the file small). */
  acked: boolean;
}

/** What the daemon keeps on disk (beside its config) and `status` reads. */
export interface SatelliteState {
  pid: number | null;
  started_at: string | null;
  connected: boolean;
  connected_at: string | null;
  device_id: string | null;
  last_heartbeat_at: string | null;
  /** The last stream seq seen, per agent: the subscription resumes after it. */
  last_seq: Record<string, number>;
  outbox: OutboxEntry[];
  commands: CommandRecord[];
  updated_at: string | null;
}

export const emptyState = (): SatelliteState => ({
  pid: null,
  started_at: null,
  connected: false,
  connected_at: null,
  device_id: null,
  last_heartbeat_at: null,
  last_seq: {},
  outbox: [],
  commands: [],
  updated_at: null,
});

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Reads the state file; a missing file is an empty state, an unreadable one is set aside (renamed) and reported. */
export function readState(file: string, warn: (line: string) => void = () => undefined): SatelliteState {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return emptyState();
    }
    throw error;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (!isRecord(parsed)) {
      throw new Error('not a JSON object');
    }
    const state = { ...emptyState(), ...parsed };
    if (!Array.isArray(state.outbox) || !Array.isArray(state.commands) || !isRecord(state.last_seq)) {
      throw new Error('outbox, commands or last_seq has the wrong shape');
    }
    return state;
  } catch (error) {
    const aside = `${file}.unreadable-${Date.now()}`;
    renameSync(file, aside);
    warn(`the state file ${file} was unreadable (${(error as Error).message}); moved to ${aside}, starting afresh`);
    return emptyState();
  }
}

/** The state in memory, written whole (atomically, 0600) after every change that must survive a crash. */
export class StateStore {
  constructor(
    readonly file: string,
    readonly state: SatelliteState,
  ) {}

  save(): void {
    this.state.updated_at = new Date().toISOString();
    writePrivateFileAtomic(this.file, `${JSON.stringify(this.state)}\n`);
  }
}

export interface OutboxLimits {
  maxEntries: number;
  maxBytes: number;
}

export const DEFAULT_OUTBOX_LIMITS: OutboxLimits = { maxEntries: 1000, maxBytes: 1024 * 1024 };

export class OutboxFullError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboxFullError';
  }
}

const entryBytes = (entry: OutboxEntry): number => Buffer.byteLength(JSON.stringify(entry));

/**
 * Lines waiting to be sent, in order, persisted before they are accepted. Bounded: when full, a new
 * line is refused (the caller says so), never an older one dropped. An entry leaves only when the
 * hub acknowledged it (`event_ack`), so a resend after a reconnect carries the same client_event_id.
 */
export class Outbox {
  private bytes: number;

  constructor(
    private readonly store: StateStore,
    private readonly limits: OutboxLimits = DEFAULT_OUTBOX_LIMITS,
  ) {
    this.bytes = store.state.outbox.reduce((sum, entry) => sum + entryBytes(entry), 0);
  }

  get size(): number {
    return this.store.state.outbox.length;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  enqueue(spaceId: string, text: string): OutboxEntry {
    const entry: OutboxEntry = {
      client_event_id: randomUUID(),
      space_id: spaceId,
      text,
      queued_at: new Date().toISOString(),
    };
    const size = entryBytes(entry);
    if (this.size >= this.limits.maxEntries || this.bytes + size > this.limits.maxBytes) {
      throw new OutboxFullError(
        `the outbox is full (${this.size} lines, ${this.bytes} bytes; at most ${this.limits.maxEntries} lines or ${this.limits.maxBytes} bytes): line refused, nothing queued. It drains when the hub is reachable.`,
      );
    }
    this.store.state.outbox.push(entry);
    this.bytes += size;
    this.store.save();
    return entry;
  }

  peek(): OutboxEntry | undefined {
    return this.store.state.outbox[0];
  }

  /** Removes an entry (acknowledged by the hub, or refused for good); false when it is not queued. */
  remove(clientEventId: string): boolean {
    const index = this.store.state.outbox.findIndex((entry) => entry.client_event_id === clientEventId);
    if (index < 0) {
      return false;
    }
    const [removed] = this.store.state.outbox.splice(index, 1);
    this.bytes -= removed ? entryBytes(removed) : 0;
    this.store.save();
    return true;
  }
}

export const DEFAULT_COMMAND_LOG_SIZE = 256;

/**
 * The commands this satellite was handed, by command_id, so a redelivered command is answered with
 * the stored reply instead of running again. Bounded: past `maxEntries`, the oldest confirmed
 * (acked) records go first, then the oldest answered ones; a running command is never forgotten.
 */
export class CommandLog {
  constructor(
    private readonly store: StateStore,
    private readonly maxEntries = DEFAULT_COMMAND_LOG_SIZE,
  ) {}

  get(commandId: string): CommandRecord | undefined {
    return this.store.state.commands.find((record) => record.command_id === commandId);
  }

  get size(): number {
    return this.store.state.commands.length;
  }

  /** Records that a command starts, before it runs: a crash mid-run never leads to a second run. */
  begin(commandId: string, kind: string): CommandRecord {
    const record: CommandRecord = {
      command_id: commandId,
      kind,
      received_at: new Date().toISOString(),
      status: 'running',
      reply: null,
      acked: false,
    };
    this.store.state.commands.push(record);
    this.evict();
    this.store.save();
    return record;
  }

  finish(commandId: string, reply: CommandReply): void {
    const record = this.get(commandId);
    if (!record) {
      return;
    }
    record.status = 'answered';
    record.reply = reply;
    this.store.save();
  }

  /** The hub confirmed the reply: keep the verdict, drop the output. */
  ack(commandId: string): void {
    const record = this.get(commandId);
    if (!record || record.acked || !record.reply) {
      return;
    }
    record.acked = true;
    const { result: _dropped, ...verdict } = record.reply;
    record.reply = verdict;
    this.store.save();
  }

  /** Answered but not confirmed: to send again after a reconnect. */
  unacked(): CommandReply[] {
    return this.store.state.commands
      .filter((record) => !record.acked && record.reply)
      .map((record) => record.reply as CommandReply);
  }

  /** Records still `running` (the daemon stopped mid-run): answered as failed, never run again. */
  interrupted(): CommandRecord[] {
    return this.store.state.commands.filter((record) => record.status === 'running');
  }

  private evict(): void {
    const commands = this.store.state.commands;
    while (commands.length > this.maxEntries) {
      let index = commands.findIndex((record) => record.acked);
      if (index < 0) {
        index = commands.findIndex((record) => record.status === 'answered');
      }
      if (index < 0) {
        return;
      }
      commands.splice(index, 1);
    }
  }
}
