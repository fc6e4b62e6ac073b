import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** What a running local hub publishes about itself in its data folder. */
export interface HubLockInfo {
  pid: number;
  host: string;
  port: number;
  control_secret: string;
  started_at: string;
}

export const LOCK_FILE_NAME = 'hub.lock';

/**
 * The CLI's deadline on a local control request, in milliseconds since the epoch. The hub refuses
 * (deadline_exceeded) a request that reaches it later, so a command the CLI gave up on never
 * runs behind the operator's back.
 */
export const CONTROL_DEADLINE_HEADER = 'x-marvain-deadline';

export function lockFileIn(dataDir: string): string {
  return path.join(dataDir, LOCK_FILE_NAME);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lock of a hub that is running now, or null (a stale lock of a dead process counts as none). */
export async function readLiveLock(dataDir: string): Promise<HubLockInfo | null> {
  try {
    const info = JSON.parse(await readFile(lockFileIn(dataDir), 'utf8')) as HubLockInfo;
    return alive(info.pid) ? info : null;
  } catch {
    return null;
  }
}

/**
 * Takes the data folder for this process. Embedded PGlite must never be opened by two
 * processes at once, so a second hub (or the CLI) finds the lock and goes through this hub.
 */
export class DataDirLock {
  private constructor(
    private readonly file: string,
    readonly info: HubLockInfo,
  ) {}

  static async acquire(dataDir: string, host: string, port: number): Promise<DataDirLock> {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const file = lockFileIn(dataDir);
    const info: HubLockInfo = { pid: process.pid, host, port, control_secret: randomBytes(32).toString('base64url'), started_at: new Date().toISOString() };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(file, 'wx', 0o600);
        await handle.writeFile(JSON.stringify(info));
        await handle.close();
        return new DataDirLock(file, info);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const live = await readLiveLock(dataDir);
        if (live) throw new Error(`another Marvain process (pid ${live.pid}) is using ${dataDir}; stop it first or choose another MARVAIN_DATA_DIR`);
        await rm(file, { force: true });
      }
    }
    throw new Error(`could not lock ${dataDir}`);
  }

  async publishPort(port: number): Promise<void> {
    this.info.port = port;
    await writeFile(this.file, JSON.stringify(this.info), { mode: 0o600 });
  }

  async release(): Promise<void> {
    await rm(this.file, { force: true });
  }
}
