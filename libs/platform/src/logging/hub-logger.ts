import { Inject, Injectable, Logger, Module, Optional, type LoggerService } from '@nestjs/common';

/**
 * Where a LoggerFactory writes. Unbound, lines go through Nest's logger bridge to the
 * application's logger (the hub's pino pipeline, see PinoNestLogger); a spec binds a
 * PinoNestLogger over a buffer to read them.
 */
export const LOG_SINK = Symbol('LOG_SINK');

/**
 * A service's logger: every line carries the service's context (`Planner`, `Actions`, …) and,
 * while a request is handled, its request id. A message may be an object `{ msg, ...fields }`.
 */
export class HubLogger {
  constructor(
    private readonly sink: LoggerService,
    readonly context: string,
  ) {}

  log(message: unknown): void {
    this.sink.log(message, this.context);
  }
  warn(message: unknown): void {
    this.sink.warn(message, this.context);
  }
  /** `trace` is a stack, kept as the record's trace. */
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
  private readonly sink: LoggerService;

  constructor(@Optional() @Inject(LOG_SINK) sink?: LoggerService) {
    this.sink = sink ?? new Logger();
  }

  forContext(context: string): HubLogger {
    return new HubLogger(this.sink, context);
  }
}

/** Import it where a service needs a logger. */
@Module({ providers: [LoggerFactory], exports: [LoggerFactory] })
export class LoggingModule {}
