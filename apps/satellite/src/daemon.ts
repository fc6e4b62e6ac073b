import WebSocket from 'ws';
import {
  CommandErrorCode,
  EventTypes,
  ErrorCode,
  PROTOCOL_VERSION,
  WsCloseCode,
  type ClientMessage,
  type CommandMessage,
  type ServerMessage,
} from '@marvain/contracts';
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import {
  configurableView,
  mergeSettings,
  readConfig,
  SatelliteConfigError,
  webSocketUrl,
  writeConfig,
  type SatelliteConfig,
} from './config';
import { LineSplitter } from './lines';
import type { SatelliteLog } from './log';
import { fitResult, runAction } from './run-action';
import {
  CommandLog,
  Outbox,
  OutboxFullError,
  readState,
  StateStore,
  type CommandReply,
  type OutboxEntry,
} from './state';

export interface DaemonOptions {
  configFile: string;
  stateFile: string;
  log: SatelliteLog;
  /** Where replies (`message.outbound`) are printed. */
  out: (text: string) => void;
  /** `--verbose` on the command line: frames are logged whatever the config says. */
  verbose: boolean;
  backoff?: BackoffOptions;
}

/** Exit codes of `run`. */
export const ExitCode = { Stopped: 0, Failed: 1, Refused: 2 } as const;

/** The longest line `push_transcript` takes (characters). */
export const MAX_LINE_CHARS = 20_000;
/** The most any one frame from the hub may weigh; the hub sends far less. */
const MAX_INCOMING_BYTES = 1024 * 1024;
/** The most one `cmd.result` frame may weigh: the hub refuses frames over 64 KiB. */
const RESULT_FRAME_BUDGET = 60 * 1024;
/** How long to wait before resending a line the hub could not take just now. */
const OUTBOX_RETRY_MS = 2_000;
const RETRYABLE_CODES: readonly string[] = [ErrorCode.RateLimited, ErrorCode.Unavailable, ErrorCode.Internal];

const UNAUTHENTICATED: string = ErrorCode.Unauthenticated;
const STREAM_EXPIRED: string = ErrorCode.StreamExpired;

type Reply = ServerMessage & Record<string, unknown>;

const REVOKED_MESSAGE =
  "the hub refused this device's token: it was revoked or rotated; run init again with a new token (marvain devices add-remote prints one)";

/**
 * The satellite daemon: one WebSocket to the hub, kept open (jittered exponential backoff between
 * attempts), a `hello` with the device token, heartbeats at the interval the hub states, the
 * agents' streams resumed from the last seq seen, typed lines sent from a persisted outbox, and
 * the hub's commands answered, each once.
 */
export class SatelliteDaemon {
  private config: SatelliteConfig;
  private readonly store: StateStore;
  private readonly outbox: Outbox;
  private readonly commands: CommandLog;
  private readonly backoff: Backoff;
  private readonly log: SatelliteLog;
  private socket: WebSocket | null = null;
  /** After `hello_ok`, until the socket closes. */
  private ready = false;
  private openedAt = 0;
  private lastMessageAt = 0;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private heartbeatIntervalMs = 30_000;
  /** The client_event_id sent and not yet acknowledged (one at a time, in order). */
  private inFlight: string | null = null;
  private stopping = false;
  private finish: ((code: number) => void) | null = null;
  private readonly done: Promise<number>;

  constructor(private readonly options: DaemonOptions) {
    this.log = options.log;
    this.config = readConfig(options.configFile);
    this.log.verbose = options.verbose || this.config.settings.verbose;
    this.store = new StateStore(
      options.stateFile,
      readState(options.stateFile, (line) => this.log.info(line)),
    );
    this.outbox = new Outbox(this.store);
    this.commands = new CommandLog(this.store);
    this.backoff = new Backoff(options.backoff ?? DEFAULT_BACKOFF);
    this.done = new Promise((resolve) => (this.finish = resolve));
  }

  /** Runs until stopped (0), refused by the hub (2) or broken (1); resolves with the exit code. */
  run(): Promise<number> {
    const state = this.store.state;
    state.pid = process.pid;
    state.started_at = new Date().toISOString();
    state.connected = false;
    for (const record of this.commands.interrupted()) {
      this.log.info(
        `command ${record.command_id} (${record.kind}) was running when the satellite stopped; not run again`,
      );
      this.commands.finish(record.command_id, {
        type: 'cmd.result',
        command_id: record.command_id,
        ok: false,
        error: {
          code: CommandErrorCode.CommandFailed,
          message: 'the satellite stopped while this command ran; it was not run again',
        },
      });
    }
    this.store.save();
    this.log.info(
      `marvain-satellite ${process.pid} starting: hub ${this.config.hub_url}, space ${this.config.space_id ?? '(none)'}, ` +
        `${Object.keys(this.config.commands).length} local command(s), outbox ${this.outbox.size} line(s)`,
    );
    this.connect();
    return this.done;
  }

  /** Lines typed on stdin become `push_transcript` events, through the outbox. */
  attachInput(input: NodeJS.ReadableStream): void {
    const splitter = new LineSplitter(
      MAX_LINE_CHARS * 4,
      (line) => this.typed(line),
      (dropped) =>
        this.log.info(`line refused: longer than ${MAX_LINE_CHARS} characters (${dropped}+ bytes); nothing queued`),
    );
    input.on('data', (chunk: Buffer | string) => splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
    input.on('end', () => {
      splitter.end();
      this.log.info('stdin closed; the satellite keeps running');
    });
  }

  /** SIGINT/SIGTERM: close the connection cleanly, persist the state, exit 0. */
  stop(reason: string): void {
    if (this.stopping) {
      return;
    }
    this.stopping = true;
    this.log.info(`stopping (${reason})`);
    this.clearTimers();
    this.closeSocket(1000, 'satellite stopping');
    this.end(ExitCode.Stopped);
  }

  private end(code: number): void {
    const state = this.store.state;
    state.connected = false;
    state.pid = null;
    this.store.save();
    this.finish?.(code);
  }

  private fatal(message: string): void {
    if (this.stopping) {
      return;
    }
    this.stopping = true;
    this.log.info(message);
    this.clearTimers();
    this.closeSocket(1000, 'satellite giving up');
    this.end(ExitCode.Refused);
  }

  private clearTimers(): void {
    for (const timer of [this.heartbeatTimer, this.reconnectTimer, this.retryTimer]) {
      if (timer) {
        clearTimeout(timer);
      }
    }
    this.heartbeatTimer = this.reconnectTimer = this.retryTimer = null;
  }

  private closeSocket(code: number, reason: string): void {
    const socket = this.socket;
    this.socket = null;
    this.ready = false;
    if (socket && socket.readyState !== WebSocket.CLOSED) {
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      if (socket.readyState === WebSocket.OPEN) {
        socket.close(code, reason);
      } else {
        socket.terminate();
      }
    }
  }

  private connect(): void {
    if (this.stopping) {
      return;
    }
    const url = webSocketUrl(this.config.hub_url);
    this.log.info(`connecting to ${url}`);
    const socket = new WebSocket(url, { maxPayload: MAX_INCOMING_BYTES, handshakeTimeout: 15_000 });
    this.socket = socket;
    socket.on('open', () => {
      this.openedAt = Date.now();
      this.lastMessageAt = Date.now();
      this.log.info('connected; saying hello');
      this.send({ type: 'hello', id: 'hello', token: this.config.token });
    });
    socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      this.lastMessageAt = Date.now();
      if (isBinary) {
        return;
      }
      let message: Reply;
      try {
        message = JSON.parse(rawText(data)) as Reply;
      } catch {
        this.log.info('the hub sent a frame that is not JSON; ignored');
        return;
      }
      this.log.frame('<', message);
      this.handle(message).catch((error: unknown) => this.log.info(`error handling ${message.type}: ${String(error)}`));
    });
    socket.on('error', (error) => this.log.info(`connection error: ${error.message}`));
    socket.on('close', (code, reason) => this.closed(socket, code, reason.toString('utf8')));
  }

  private closed(socket: WebSocket, code: number, reason: string): void {
    if (socket !== this.socket) {
      return;
    }
    const wasReady = this.ready;
    this.socket = null;
    this.ready = false;
    this.inFlight = null;
    if (this.heartbeatTimer) {
      clearInterval(this.heartbeatTimer);
      this.heartbeatTimer = null;
    }
    if (this.store.state.connected) {
      this.store.state.connected = false;
      this.store.save();
    }
    if (this.stopping) {
      return;
    }
    const why = `${code}${reason ? ` ${reason}` : ''}`;
    if (code === WsCloseCode.Unauthenticated) {
      this.fatal(`connection closed (${why}): ${REVOKED_MESSAGE}`);
      return;
    }
    this.backoff.connectionEnded(this.openedAt && wasReady ? Date.now() - this.openedAt : 0);
    this.openedAt = 0;
    const delay = this.backoff.next();
    const meaning =
      code === WsCloseCode.AccessChanged
        ? 'access changed, saying hello again'
        : code === WsCloseCode.TooManyConnections
          ? 'too many connections for this device'
          : code === WsCloseCode.TryAgainLater
            ? 'the hub asked to reconnect later'
            : code === WsCloseCode.GoingAway
              ? 'the hub is shutting down'
              : 'connection lost';
    this.log.info(`disconnected (${why}: ${meaning}); reconnecting in ${(delay / 1000).toFixed(1)} s`);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private send(message: ClientMessage | CommandReply): boolean {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      return false;
    }
    this.log.frame('>', message);
    socket.send(JSON.stringify(message));
    return true;
  }

  private async handle(message: Reply): Promise<void> {
    switch (message.type) {
      case 'hello_ok':
        this.helloOk(message);
        return;
      case 'heartbeat_ok':
        this.store.state.last_heartbeat_at = message.ts;
        this.store.save();
        return;
      case 'subscribed':
        this.subscribed(message);
        return;
      case 'stream':
        this.streamEntry(message);
        return;
      case 'resync_required':
        this.log.info(
          `fell behind on agent ${message.agent_id}'s stream; resubscribing from seq ${message.last_seq + 1}`,
        );
        this.subscribe(message.agent_id, message.last_seq + 1);
        return;
      case 'event_ack':
        this.acknowledged(message.id, message.event_id, message.duplicate);
        return;
      case 'cmd.ping':
      case 'cmd.config':
      case 'cmd.run_action':
        await this.command(message);
        return;
      case 'cmd.result_ok':
        this.commands.ack(message.command_id);
        this.log.info(
          `command ${message.command_id}: the hub recorded the result (${message.status}${message.duplicate ? ', duplicate' : ''})`,
        );
        return;
      case 'error':
        this.refused(message.id, message.error);
        return;
      default:
        return;
    }
  }

  private helloOk(message: Extract<ServerMessage, { type: 'hello_ok' }>): void {
    if (message.protocol !== PROTOCOL_VERSION) {
      this.log.info(`the hub speaks protocol ${message.protocol}; this satellite knows ${PROTOCOL_VERSION}`);
    }
    this.ready = true;
    const state = this.store.state;
    state.connected = true;
    state.connected_at = new Date().toISOString();
    state.device_id = message.principal.id;
    this.store.save();
    this.log.info(
      `hello ok as ${message.principal.type} ${message.principal.id} (agents ${message.principal.agent_ids.join(', ') || 'none'}); ` +
        `heartbeat every ${message.heartbeat_interval_s} s`,
    );
    this.heartbeatIntervalMs = Math.max(1, message.heartbeat_interval_s) * 1000;
    this.heartbeat();
    if (this.heartbeatTimer) {
      clearInterval(this.heartbeatTimer);
    }
    this.heartbeatTimer = setInterval(() => {
      const silentMs = Date.now() - this.lastMessageAt;
      if (silentMs > 3 * this.heartbeatIntervalMs) {
        this.log.info(`no word from the hub for ${Math.round(silentMs / 1000)} s; reconnecting`);
        this.socket?.terminate();
        return;
      }
      this.heartbeat();
    }, this.heartbeatIntervalMs);
    for (const agentId of message.principal.agent_ids) {
      const last = state.last_seq[agentId];
      this.subscribe(agentId, last === undefined ? undefined : last + 1);
    }
    for (const reply of this.commands.unacked()) {
      this.log.info(`command ${reply.command_id}: sending its result again (not confirmed before the disconnect)`);
      this.sendReply(reply);
    }
    this.flush();
  }

  private heartbeat(): void {
    this.send({ type: 'heartbeat', id: 'hb', ...(this.config.space_id ? { space_id: this.config.space_id } : {}) });
  }

  private subscribe(agentId: string, fromSeq: number | undefined): void {
    this.send({ type: 'subscribe', id: `s:${agentId}`, agent_id: agentId, ...(fromSeq ? { from_seq: fromSeq } : {}) });
  }

  private subscribed(message: Extract<ServerMessage, { type: 'subscribed' }>): void {
    const last = this.store.state.last_seq[message.agent_id];
    if (last === undefined) {
      // Live entries follow `last_seq`: a resume after a disconnect starts right after it.
      this.store.state.last_seq[message.agent_id] = message.last_seq;
      this.store.save();
    } else if (message.last_seq < last) {
      // The hub's stream is behind what this satellite saw: a different (or reset) hub database.
      this.log.info(
        `agent ${message.agent_id}'s stream restarted at seq ${message.last_seq} (this satellite saw ${last})`,
      );
      this.store.state.last_seq[message.agent_id] = message.last_seq;
      this.store.save();
    }
    this.log.info(
      `subscribed to agent ${message.agent_id} (${message.topics.join(', ')}) ` +
        (last === undefined
          ? `from now (seq ${message.last_seq})`
          : `from seq ${Math.min(last, message.last_seq) + 1}`),
    );
  }

  private streamEntry(entry: Extract<ServerMessage, { type: 'stream' }>): void {
    const state = this.store.state;
    const seen = state.last_seq[entry.agent_id];
    if (seen !== undefined && entry.seq <= seen) {
      return;
    }
    state.last_seq[entry.agent_id] = entry.seq;
    this.store.save();
    const data = entry.data;
    const what =
      typeof data['type'] === 'string'
        ? ` ${data['type']}`
        : typeof data['status'] === 'string'
          ? ` ${data['status']}`
          : '';
    this.log.info(`stream ${entry.topic}${what} seq ${entry.seq}`);
    if (
      entry.topic === 'events.new' &&
      data['type'] === EventTypes.MessageOutbound &&
      this.config.settings.print_replies &&
      (!this.config.space_id || entry.space_id === this.config.space_id)
    ) {
      const payload = data['payload'];
      const text =
        typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>)['text'] : undefined;
      if (typeof text === 'string') {
        this.options.out(`${text}\n`);
      }
    }
  }

  private typed(rawLine: string): void {
    const line = rawLine.replace(/\r$/, '');
    if (line.trim() === '') {
      return;
    }
    if (!this.config.space_id) {
      this.log.info('line refused: this satellite has no space_id (init --space-id, or cmd.config); nothing queued');
      return;
    }
    if (line.length > MAX_LINE_CHARS) {
      this.log.info(`line refused: longer than ${MAX_LINE_CHARS} characters; nothing queued`);
      return;
    }
    let entry: OutboxEntry;
    try {
      entry = this.outbox.enqueue(this.config.space_id, line);
    } catch (error) {
      if (error instanceof OutboxFullError) {
        this.log.info(error.message);
        return;
      }
      throw error;
    }
    this.log.info(
      `line queued as ${entry.client_event_id} (${this.outbox.size} waiting)${this.ready ? '' : '; sent once the hub is back'}`,
    );
    this.flush();
  }

  /** Sends the oldest queued line, if connected and none is waiting for its ack. */
  private flush(): void {
    if (!this.ready || this.inFlight || this.retryTimer) {
      return;
    }
    const entry = this.outbox.peek();
    if (!entry) {
      return;
    }
    const sent = this.send({
      type: 'push_transcript',
      id: `o:${entry.client_event_id}`,
      space_id: entry.space_id,
      text: entry.text,
      client_event_id: entry.client_event_id,
    });
    if (sent) {
      this.inFlight = entry.client_event_id;
    }
  }

  private acknowledged(id: string | undefined, eventId: string | null, duplicate: boolean): void {
    if (!id?.startsWith('o:')) {
      return;
    }
    const clientEventId = id.slice(2);
    if (this.inFlight === clientEventId) {
      this.inFlight = null;
    }
    if (this.outbox.remove(clientEventId)) {
      this.log.info(
        `outbox: line ${clientEventId} sent as event ${eventId ?? '(not stored)'}${duplicate ? ' (the hub already had it)' : ''}; ${this.outbox.size} waiting`,
      );
    }
    this.flush();
  }

  private refused(id: string | undefined, error: { code: string; message: string; details?: unknown }): void {
    const what = `${error.code}: ${error.message}`;
    if (id === 'hello') {
      if (error.code === UNAUTHENTICATED) {
        this.fatal(`hello refused (${what}): ${REVOKED_MESSAGE}`);
      } else {
        this.log.info(`hello refused (${what}); reconnecting`);
        this.socket?.terminate();
      }
      return;
    }
    if (id?.startsWith('o:')) {
      const clientEventId = id.slice(2);
      this.inFlight = this.inFlight === clientEventId ? null : this.inFlight;
      if (RETRYABLE_CODES.includes(error.code)) {
        this.log.info(`outbox: the hub could not take line ${clientEventId} now (${what}); retrying`);
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.flush();
        }, OUTBOX_RETRY_MS);
      } else {
        this.outbox.remove(clientEventId);
        this.log.info(`outbox: the hub refused line ${clientEventId} for good (${what}); removed from the outbox`);
        this.flush();
      }
      return;
    }
    if (id?.startsWith('s:')) {
      const agentId = id.slice(2);
      const details = (error.details ?? {}) as Record<string, unknown>;
      const oldest = details['oldest_seq'];
      if (error.code === STREAM_EXPIRED && typeof oldest === 'number') {
        this.log.info(`agent ${agentId}'s entries before seq ${oldest} expired; resuming from there`);
        this.subscribe(agentId, oldest);
      } else {
        this.log.info(`could not subscribe to agent ${agentId} (${what})`);
      }
      return;
    }
    if (id?.startsWith('c:')) {
      const commandId = id.slice(2);
      this.log.info(`command ${commandId}: the hub refused its result (${what}); not sent again`);
      this.commands.ack(commandId);
      return;
    }
    this.log.info(`the hub answered ${id ?? 'a frame'} with ${what}`);
  }

  private async command(message: CommandMessage): Promise<void> {
    const commandId = message.command_id;
    const kind = message.type.slice('cmd.'.length);
    const known = this.commands.get(commandId);
    if (known) {
      if (known.reply) {
        this.log.info(`command ${commandId} (${kind}) delivered again: sending the stored result (not run again)`);
        this.sendReply(known.reply);
      }
      return;
    }
    this.commands.begin(commandId, kind);
    this.log.info(
      `command ${commandId} received: ${kind}${message.type === 'cmd.run_action' ? ` ${describe(message.args)}` : ''}`,
    );
    const reply = await this.execute(message);
    this.commands.finish(commandId, reply);
    this.log.info(
      `command ${commandId} ran: ${reply.ok ? 'ok' : `failed (${reply.error?.code ?? 'error'}: ${reply.error?.message ?? ''})`}`,
    );
    this.sendReply(reply);
  }

  private async execute(message: CommandMessage): Promise<CommandReply> {
    const base = { type: 'cmd.result' as const, command_id: message.command_id };
    switch (message.type) {
      case 'cmd.ping':
        return { ...base, ok: true, result: { pong: true, at: new Date().toISOString() } };
      case 'cmd.config': {
        try {
          const next = mergeSettings(this.config, (message.args as { settings?: unknown } | undefined)?.settings);
          writeConfig(this.options.configFile, next);
          const spaceChanged = next.space_id !== this.config.space_id;
          this.config = next;
          this.log.verbose = this.options.verbose || next.settings.verbose;
          if (spaceChanged && this.ready) {
            this.heartbeat();
          }
          return { ...base, ok: true, result: { settings: configurableView(next) } };
        } catch (error) {
          if (error instanceof SatelliteConfigError) {
            return { ...base, ok: false, error: { code: CommandErrorCode.InvalidCommand, message: error.message } };
          }
          throw error;
        }
      }
      case 'cmd.run_action': {
        const outcome = await runAction(this.config.commands, message.args);
        return {
          ...base,
          ok: outcome.ok,
          ...(outcome.result ? { result: { ...fitResult(outcome.result, RESULT_FRAME_BUDGET) } } : {}),
          ...(outcome.error ? { error: outcome.error } : {}),
        };
      }
      default:
        return {
          ...base,
          ok: false,
          error: { code: CommandErrorCode.InvalidCommand, message: 'this satellite does not know that command' },
        };
    }
  }

  private sendReply(reply: CommandReply): void {
    if (this.ready && this.send({ ...reply, id: `c:${reply.command_id}` })) {
      this.log.info(`command ${reply.command_id}: result sent`);
    }
  }
}

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) {
    return Buffer.concat(data).toString('utf8');
  }
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}

function describe(args: unknown): string {
  const name = typeof args === 'object' && args !== null ? (args as Record<string, unknown>)['name'] : undefined;
  return typeof name === 'string' ? JSON.stringify(name.slice(0, 64)) : '(no name)';
}
