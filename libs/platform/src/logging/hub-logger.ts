import { Inject, Injectable, Logger, Module, Optional, type LoggerService } from '@nestjs/common';

/**
 * Where a LoggerFactory writes when bound, e.g. a PinoNestLogger over a buffer a spec reads.
 * Unbound, lines go through Nest's logger bridge to the application's logger (the hub's pino
 * pipeline, see PinoNestLogger).
 */
export const LOG_SINK = Symbol('LOG_SINK');

/**
 * A service's logger: every line carries the service's context (`Planner`, `Actions`, …) and,
 * while a request is handled, its request id. A message may be an object `{ msg, ...fields }`.
 */
export interface HubLogger {
  log(message: unknown): void;
  warn(message: unknown): void;
  /** `trace` is a stack, kept as the record's trace. */
  error(message: unknown, trace?: string): void;
  debug(message: unknown): void;
}

/** A bound sink's lines, with the context appended as Nest's Logger does. */
class SinkLogger implements HubLogger {
  constructor(
    private readonly sink: LoggerService,
    private readonly context: string,
  ) {}

  log(message: unknown): void {
    this.sink.log(message, this.context);
  }
  warn(message: unknown): void {
    this.sink.warn(message, this.context);
  }
  error(message: unknown, trace?: string): void {
    if (trace === undefined) {
      this.sink.error(message, this.context);
    } else {
      this.sink.error(message, trace, this.context);
    }
  }
  debug(message: unknown): void {
    this.sink.debug?.(message, this.context);
  }
}

/** Hands services their logger by injection (`logs.forContext('Planner')`), so a spec can capture lines. */
@Injectable()
export class LoggerFactory {
  constructor(@Optional() @Inject(LOG_SINK) private readonly sink?: LoggerService) {}

  forContext(context: string): HubLogger {
    return this.sink ? new SinkLogger(this.sink, context) : new Logger(context);
  }
}

/** Import it where a service needs a logger. */
@Module({ providers: [LoggerFactory], exports: [LoggerFactory] })
export class LoggingModule {}
