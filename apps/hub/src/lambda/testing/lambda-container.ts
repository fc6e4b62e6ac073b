import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const RUNTIME = path.resolve(__dirname, '../../../../../tools/build/lambda-runtime.cjs');

type Reply =
  | { ready: true; loadMs: number }
  | { ready: false; error: string }
  | { id: number; result?: unknown; error?: string; ms: number };

/**
 * One built Lambda bundle loaded in a process of its own (tools/build/lambda-runtime.cjs), as a
 * Lambda container holds it: loaded once, then invoked with one event at a time.
 */
export class LambdaContainer {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private output = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly loadMs: number,
  ) {
    child.on('message', (reply: Reply) => {
      if (!('id' in reply)) {
        return;
      }
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.error !== undefined) {
        waiter?.reject(new Error(`${reply.error}\n--- container output ---\n${this.output}`));
      } else {
        waiter?.resolve(reply.result);
      }
    });
    child.on('exit', (code) => {
      for (const waiter of this.pending.values()) {
        waiter.reject(new Error(`the container exited (${String(code)}):\n${this.output}`));
      }
      this.pending.clear();
    });
  }

  /** Starts a container for the bundle; resolves once its module has loaded. */
  static start(bundle: string, env: NodeJS.ProcessEnv, cwd: string): Promise<LambdaContainer> {
    const child = fork(RUNTIME, [bundle], { cwd, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null): void =>
        reject(new Error(`${bundle} exited (${String(code)}) while loading:\n${output}`));
      child.once('exit', onExit);
      child.once('message', (reply: Reply) => {
        child.off('exit', onExit);
        if ('ready' in reply && reply.ready) {
          const container = new LambdaContainer(child, reply.loadMs);
          child.stdout?.off('data', keep).on('data', (chunk: Buffer) => container.keep(chunk));
          child.stderr?.off('data', keep).on('data', (chunk: Buffer) => container.keep(chunk));
          container.output = output;
          resolve(container);
        } else {
          child.kill();
          reject(
            new Error(`${bundle} failed to load: ${'error' in reply ? reply.error : JSON.stringify(reply)}\n${output}`),
          );
        }
      });
    });
  }

  invoke<T = unknown>(event: unknown): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ id, event });
    });
  }

  /** What the container printed (its logs), for failure messages. */
  logs(): string {
    return this.output;
  }

  /** Waits for a log line matching the pattern (output arrives on its own pipe, after the reply). */
  async waitForLog(pattern: RegExp, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.output.split('\n').find((candidate) => pattern.test(candidate));
      if (line) {
        return line;
      }
      if (Date.now() > deadline) {
        throw new Error(`no log line matched ${String(pattern)} within ${timeoutMs} ms:\n${this.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill();
    });
  }

  private keep(chunk: Buffer): void {
    this.output = (this.output + chunk.toString('utf8')).slice(-20_000);
  }
}
