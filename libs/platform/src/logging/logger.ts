import type { LoggerService } from '@nestjs/common';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogFormat, LogLevel } from '../config/hub-config';
import { currentRequestId } from './request-context';

/** Where log lines go: stdout in the hub, a buffer in tests. */
export interface LogDestination {
  write(line: string): unknown;
  /** A terminal gets short human lines when the format is `auto`. */
  isTTY?: boolean;
}

export interface LogSettings {
  logLevel: LogLevel;
  logFormat: LogFormat;
}

/** Whether logs to `destination` are JSON lines (then nothing else may be written there). */
export function writesJson(settings: LogSettings, destination: LogDestination = process.stdout): boolean {
  return !(settings.logFormat === 'pretty' || (settings.logFormat === 'auto' && destination.isTTY === true));
}

/**
 * The hub's one log pipeline: JSON lines (one record a line, for collectors), or short human
 * lines on a terminal. `auto` picks pretty for a terminal and JSON otherwise. A line written
 * while a request is handled carries its `request_id`.
 */
export function createRootLogger(settings: LogSettings, destination: LogDestination = process.stdout): Logger {
  const stream: DestinationStream = writesJson(settings, destination)
    ? { write: (line: string) => void destination.write(line) }
    : prettyStream(destination);
  return pino(
    {
      level: settings.logLevel,
      base: { service: 'marvain-hub' },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin: () => {
        const requestId = currentRequestId();
        return requestId === undefined ? {} : { request_id: requestId };
      },
    },
    stream,
  );
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const OMITTED_IN_PRETTY = new Set(['level', 'time', 'msg', 'service', 'context', 'pid', 'hostname']);

/** `12:03:04.567 INFO  Planner  event planned event_id=… memories=2`: the record, minus the fields a person reads past. */
export function prettyLine(record: Record<string, unknown>): string {
  const time = typeof record['time'] === 'string' ? record['time'].slice(11, 23) : '';
  const level = (LEVEL_NAMES[Number(record['level'])] ?? String(record['level'])).padEnd(5);
  const context = typeof record['context'] === 'string' ? `${record['context']}  ` : '';
  const fields = Object.entries(record)
    .filter(([key, value]) => !OMITTED_IN_PRETTY.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value)}`);
  const trace = typeof record['trace'] === 'string' ? `\n${record['trace']}` : '';
  const rest = fields.filter((field) => !field.startsWith('trace='));
  const msg = typeof record['msg'] === 'string' ? record['msg'] : '';
  return `${time} ${level} ${context}${msg}${rest.length > 0 ? `  ${rest.join(' ')}` : ''}${trace}\n`;
}

function prettyStream(destination: LogDestination): DestinationStream {
  return {
    write(line: string): void {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        destination.write(line); // pino writes JSON; anything else passes through as it came
        return;
      }
      destination.write(prettyLine(record));
    },
  };
}

/**
 * Nest's start-up lines (one per module and route, some 60 of them): debug, not info, so `info`
 * shows what the hub does rather than how it was assembled.
 */
const FRAMEWORK_CONTEXTS = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
  'NestMicroservice',
]);

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * Nest's logger interface over pino, so framework and application logs share one pipeline.
 * Nest's Logger appends the context (the `new Logger('Planner')` name) as the last parameter. A
 * message may be an object `{ msg, ...fields }`: the fields become the record's own fields.
 */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    const context = contextOf(params);
    this.write(context !== undefined && FRAMEWORK_CONTEXTS.has(context) ? 'debug' : 'info', message, context);
  }
  error(message: unknown, ...params: unknown[]): void {
    // Nest passes (message, stack, context) or (message, context).
    const context = contextOf(params);
    const trace = params.length >= 2 && typeof params[0] === 'string' ? params[0] : undefined;
    this.write('error', message, context, trace);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, contextOf(params));
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, contextOf(params));
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, contextOf(params));
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, contextOf(params));
  }

  private write(level: Level, message: unknown, context: string | undefined, trace?: string): void {
    if (!this.logger.isLevelEnabled(level)) {
      return;
    }
    const base = { ...(context !== undefined ? { context } : {}), ...(trace !== undefined ? { trace } : {}) };
    if (message instanceof Error) {
      this.logger[level]({ ...base, trace: trace ?? message.stack }, message.message);
    } else if (isRecord(message) && typeof message['msg'] === 'string') {
      const { msg, ...fields } = message;
      this.logger[level]({ ...fields, ...base }, msg);
    } else {
      this.logger[level](base, typeof message === 'string' ? message : JSON.stringify(message));
    }
  }
}

function contextOf(params: unknown[]): string | undefined {
  const last = params[params.length - 1];
  return typeof last === 'string' ? last : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
