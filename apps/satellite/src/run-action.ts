import { spawn } from 'node:child_process';
import { CommandErrorCode, type CommandError } from '@marvain/contracts';
import type { LocalCommand } from './config';

/** What a local command did, as `cmd.result.result` carries it. */
export interface RunResult {
  exit_code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Output past `max_output_bytes` (per stream), or past what fits in one frame, was cut. */
  truncated: boolean;
  duration_ms: number;
}

export interface RunOutcome {
  ok: boolean;
  result?: RunResult;
  error?: CommandError;
}

export const MAX_EXTRA_ARGS = 64;
export const MAX_ARG_CHARS = 4096;

/** Collects a stream up to `cap` bytes, reading (and discarding) the rest so the process never blocks. */
class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private length = 0;
  truncated = false;

  constructor(private readonly cap: number) {}

  push(chunk: Buffer): void {
    const room = this.cap - this.length;
    if (room <= 0) {
      this.truncated = true;
      return;
    }
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.truncated ||= kept.length < chunk.length;
    this.chunks.push(kept);
    this.length += kept.length;
  }

  text(): string {
    return Buffer.concat(this.chunks, this.length).toString('utf8');
  }
}

/**
 * Runs `cmd.run_action {name, args?}`: only a command the operator listed in the config, as an argv
 * (no shell), with its timeout (killed past it: `command_timeout`) and output cap. A non-zero exit is
 * `command_failed` with the result; an unlisted name (or args to a command that takes none) is
 * `command_not_allowed`, and nothing runs.
 */
export async function runAction(commands: Record<string, LocalCommand>, args: unknown): Promise<RunOutcome> {
  const request =
    typeof args === 'object' && args !== null && !Array.isArray(args) ? (args as Record<string, unknown>) : {};
  const name = request['name'];
  const extra = request['args'];
  if (typeof name !== 'string' || name.length === 0) {
    return fail(CommandErrorCode.InvalidCommand, 'run_action needs args.name, the name of a local command');
  }
  if (
    extra !== undefined &&
    (!Array.isArray(extra) ||
      extra.length > MAX_EXTRA_ARGS ||
      !extra.every((arg): arg is string => typeof arg === 'string' && arg.length <= MAX_ARG_CHARS))
  ) {
    return fail(CommandErrorCode.InvalidCommand, `args.args must be a list of at most ${MAX_EXTRA_ARGS} strings`);
  }
  const command = Object.prototype.hasOwnProperty.call(commands, name) ? commands[name] : undefined;
  if (!command) {
    return fail(CommandErrorCode.CommandNotAllowed, `"${name}" is not one of this satellite's commands`);
  }
  const extraArgs = extra ?? [];
  if (extraArgs.length > 0 && !command.allow_args) {
    return fail(CommandErrorCode.CommandNotAllowed, `"${name}" takes no arguments (allow_args is false)`);
  }
  return runLocalCommand(command, extraArgs);
}

export function runLocalCommand(command: LocalCommand, extraArgs: readonly string[] = []): Promise<RunOutcome> {
  const started = Date.now();
  const [file, ...fixed] = command.argv as [string, ...string[]];
  return new Promise((resolve) => {
    const stdout = new CappedBuffer(command.max_output_bytes);
    const stderr = new CappedBuffer(command.max_output_bytes);
    let timedOut = false;
    let settled = false;
    const child = spawn(file, [...fixed, ...extraArgs], { shell: false, stdio: ['ignore', 'pipe', 'pipe'] });
    const finish = (outcome: RunOutcome): void => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve(outcome);
      }
    };
    const result = (code: number | null, signal: NodeJS.Signals | null): RunResult => ({
      exit_code: code,
      signal,
      stdout: stdout.text(),
      stderr: stderr.text(),
      truncated: stdout.truncated || stderr.truncated,
      duration_ms: Date.now() - started,
    });
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.exitCode !== null || child.signalCode !== null) {
        settle(child.exitCode, child.signalCode); // exited, but something it started holds the output open
      } else {
        child.kill('SIGKILL');
      }
    }, command.timeout_ms);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', (error) => {
      finish({
        ok: false,
        result: result(null, null),
        error: { code: CommandErrorCode.CommandFailed, message: `could not start ${file}: ${error.message}` },
      });
    });
    // 'close' waits for the output streams; a killed command's descendants may hold them open, so a
    // timeout settles on 'exit'.
    function settle(code: number | null, signal: NodeJS.Signals | null): void {
      const done = result(code, signal);
      if (timedOut) {
        child.stdout.destroy();
        child.stderr.destroy();
        finish({
          ok: false,
          result: done,
          error: {
            code: CommandErrorCode.CommandTimeout,
            message: `${file} ran past its ${command.timeout_ms} ms timeout and was killed`,
          },
        });
      } else if (code === 0) {
        finish({ ok: true, result: done });
      } else {
        finish({
          ok: false,
          result: done,
          error: {
            code: CommandErrorCode.CommandFailed,
            message: code === null ? `${file} was killed by ${String(signal)}` : `${file} exited with code ${code}`,
          },
        });
      }
    }
    child.once('exit', (code, signal) => {
      if (timedOut) {
        settle(code, signal);
      }
    });
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => settle(code, signal));
  });
}

function fail(code: string, message: string): RunOutcome {
  return { ok: false, error: { code, message } };
}

/**
 * Cuts stdout and stderr until the JSON of `result` fits in `budgetBytes` (the hub refuses frames
 * over 64 KiB), marking it truncated.
 */
export function fitResult(result: RunResult, budgetBytes: number): RunResult {
  let fitted = result;
  for (let round = 0; round < 64; round += 1) {
    const size = Buffer.byteLength(JSON.stringify(fitted));
    if (size <= budgetBytes) {
      return fitted;
    }
    const excess = size - budgetBytes;
    const key = fitted.stdout.length >= fitted.stderr.length ? 'stdout' : 'stderr';
    const text = fitted[key];
    fitted = { ...fitted, [key]: text.slice(0, Math.max(0, text.length - Math.max(excess, 64))), truncated: true };
  }
  return { ...fitted, stdout: '', stderr: '', truncated: true };
}
