import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lockFileIn, readOperatorConfig, type OperatorConfig } from '@marvain/platform';

const ROOT = path.resolve(__dirname, '../../../..');

/**
 * A real local hub: the bundle `npm start` runs, in a process of its own, on a fresh data folder
 * and config file in a temporary directory and a free loopback port. For the cases an in-process
 * hub cannot show: what ends (or bloats) the process itself.
 */
export interface HubProcess {
  readonly pid: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly configFile: string;
  /** The folder holding the data folder and the config file. */
  readonly home: string;
  /** The credentials first-run bootstrap saved (device_token, user_token, agent_id, space_id, …); waits for them. */
  credentials(): Promise<OperatorConfig>;
  /** Whether the process is still running. */
  running(): boolean;
  /** Its exit code or signal, once it has exited. */
  exit(): { code: number | null; signal: NodeJS.Signals | null } | null;
  /** The resident set size from /proc/<pid>/status, in bytes. */
  rssBytes(): number;
  /** What it printed (stdout and stderr, the last 200 kB), for failure messages. */
  output(): string;
  /** Sends a signal (SIGKILL for a crash) and waits for the exit; the folders stay, for a restart on them. */
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`; removes the folders unless `options.home` named them. */
  stop(graceMs?: number): Promise<void>;
}

export interface HubProcessOptions {
  /** Extra environment (MARVAIN_LOG_LEVEL, DATABASE_URL, …). */
  env?: Record<string, string>;
  /** How long start-up may take before the helper gives up. */
  startTimeoutMs?: number;
  /**
   * A folder to keep the data folder (`data/`) and config file (`config/marvain-config.yaml`) in,
   * e.g. the `home` of an earlier hub to restart on its data. Default: a fresh temporary folder.
   */
  home?: string;
}

/**
 * Builds the hub bundle into a folder of its own (concurrent suites do not share one) inside the
 * repository, so its packages resolve from node_modules. The caller removes it once the hub has
 * loaded it.
 */
function buildHubBundle(): { file: string; remove: () => void } {
  const outdir = path.join(ROOT, 'dist', 'test-hub', `${process.pid}-${randomUUID().slice(0, 8)}`);
  const script = `import { bundle } from ${JSON.stringify(path.join(ROOT, 'tools/build/bundle.mjs'))}; await bundle('hub', { outdir: ${JSON.stringify(outdir)} });`;
  execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, stdio: 'pipe' });
  return { file: path.join(outdir, 'main.cjs'), remove: () => rmSync(outdir, { recursive: true, force: true }) };
}

export async function startHubProcess(options: HubProcessOptions = {}): Promise<HubProcess> {
  const bundle = buildHubBundle();
  const home = options.home ?? mkdtempSync(path.join(tmpdir(), 'marvain-hub-'));
  const dataDir = path.join(home, 'data');
  const configFile = path.join(home, 'config', 'marvain-config.yaml');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: home,
    MARVAIN_DATA_DIR: dataDir,
    MARVAIN_CONFIG: configFile,
    MARVAIN_HOST: '127.0.0.1',
    MARVAIN_PORT: '0',
    MARVAIN_LOG_LEVEL: 'warn',
    ...options.env,
  };
  const child = spawn(process.execPath, [bundle.file], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-200_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  // Read through a function: TypeScript would keep `exited` narrowed to null across awaits.
  const exitInfo = (): { code: number | null; signal: NodeJS.Signals | null } | null => exited;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
  });

  const cleanup = (): void => {
    if (!options.home) {
      rmSync(home, { recursive: true, force: true });
    }
  };
  let port: number;
  try {
    port = await waitForListening(
      child,
      () => output,
      () => exited,
      dataDir,
      options.startTimeoutMs ?? 60_000,
    );
  } catch (error) {
    child.kill('SIGKILL');
    await exitPromise;
    cleanup();
    throw error;
  } finally {
    bundle.remove(); // loaded by now (or never needed again)
  }
  const url = `http://127.0.0.1:${port}`;

  return {
    pid: child.pid as number,
    url,
    port,
    home,
    dataDir,
    configFile,
    async credentials() {
      // First-run bootstrap writes the file just after the hub starts answering.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const config = await readOperatorConfig(configFile).catch(() => null);
        if (config?.device_token) {
          return config;
        }
        if (Date.now() > deadline) {
          throw new Error(`the hub saved no credentials in ${configFile}:\n${output}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    running: () => exitInfo() === null,
    exit: exitInfo,
    rssBytes: () => rssOf(child.pid as number),
    output: () => output,
    async kill(signal) {
      if (exited === null) {
        child.kill(signal);
        await exitPromise;
      }
      const info = exitInfo();
      if (!info) {
        throw new Error('the hub process exited without an exit status');
      }
      return info;
    },
    async stop(graceMs = 10_000) {
      if (exited === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exitPromise;
        clearTimeout(timer);
      }
      cleanup();
    },
  };
}

/**
 * Waits until the hub answers /v1/health on the port its banner names, or (should the banner
 * change) the port its lock file publishes for this pid.
 */
async function waitForListening(
  child: ChildProcess,
  output: () => string,
  exited: () => unknown,
  dataDir: string,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited()) {
      throw new Error(`the hub exited during start-up:\n${output()}`);
    }
    // The banner is printed after first-run bootstrap, so credentials are saved by then.
    const banner = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output());
    const port = banner ? Number(banner[1]) : lockedPort(dataDir, child.pid as number);
    if (port && (await healthy(port))) {
      return port;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `the hub (pid ${String(child.pid)}, data ${dataDir}) did not start within ${timeoutMs} ms:\n${output()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function healthy(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/v1/health`, { signal: AbortSignal.timeout(5000) });
    await response.text();
    return response.status === 200;
  } catch {
    return false;
  }
}

function lockedPort(dataDir: string, pid: number): number | null {
  try {
    const lock = JSON.parse(readFileSync(lockFileIn(dataDir), 'utf8')) as { pid?: unknown; port?: unknown };
    return lock.pid === pid && typeof lock.port === 'number' && lock.port > 0 ? lock.port : null;
  } catch {
    return null; // not written yet, or being rewritten
  }
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  if (!kib) {
    throw new Error(`no VmRSS in /proc/${pid}/status`);
  }
  return Number(kib) * 1024;
}
