import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pidAlive } from './process-liveness';

/** What a running local hub publishes about itself in its data folder. */
export interface HubLockInfo {
  pid: number;
  host: string;
  port: number;
  control_secret: string;
  started_at: string;
  /**
   * The holder's start time in clock ticks since boot (/proc/<pid>/stat, field 22) and the boot's id:
   * a live pid with another start time or boot is a reused pid, not the holder. Absent without /proc.
   */
  process_start?: string;
  boot_id?: string;
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

/**
 * The control secrets of the locks this process holds now. A lock naming this process's pid
 * that is not among them was left by an earlier process with the same pid (pid 1 in a container
 * restarted after an unclean exit): it is stale.
 */
const heldHere = new Set<string>();

function readProcFile(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command name, which may hold spaces). */
function processStart(pid: number): string | null {
  const stat = readProcFile(`/proc/${pid}/stat`);
  if (stat === null) {
    return null;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null;
}

function bootId(): string | null {
  return readProcFile('/proc/sys/kernel/random/boot_id')?.trim() ?? null;
}

/**
 * Whether the lock's holder is still running. Where /proc exists, a live pid counts only with the
 * recorded start time and boot (or, for a lock written without them, when it runs node); without
 * /proc, a live pid counts.
 */
function holderAlive(info: Partial<HubLockInfo>): boolean {
  const pid = info.pid;
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) {
    return false;
  }
  if (pid === process.pid) {
    return typeof info.control_secret === 'string' && heldHere.has(info.control_secret);
  }
  if (!pidAlive(pid)) {
    return false;
  }
  if (info.boot_id && bootId() && info.boot_id !== bootId()) {
    return false;
  }
  const start = processStart(pid);
  if (start === null) {
    return true;
  }
  if (info.process_start) {
    return info.process_start === start;
  }
  const cmdline = readProcFile(`/proc/${pid}/cmdline`);
  if (cmdline === null) {
    return true;
  }
  return /node/i.test(path.basename(cmdline.split('\0')[0] ?? ''));
}

function parseLock(text: string): Partial<HubLockInfo> | null {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

async function readText(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return null;
    }
    throw error;
  }
}

/** The lock of a hub that is running now, or null (a stale lock counts as none). */
export async function readLiveLock(dataDir: string): Promise<HubLockInfo | null> {
  const text = await readText(lockFileIn(dataDir)).catch(() => null);
  const info = text === null ? null : parseLock(text);
  return info && holderAlive(info) ? (info as HubLockInfo) : null;
}

/**
 * Takes the data folder for this process. Embedded PGlite must never be opened by two
 * processes at once, so a second hub (or the CLI) finds the lock and goes through this hub.
 *
 * The lock file appears whole (written aside, then hard-linked into place, which fails if a lock
 * exists). A stale lock is taken over by whoever first creates the claim file named after the
 * stale lock's exact bytes; the claimant checks the lock still has those bytes, then renames its
 * own over it. Only a stale lock's holder could change those bytes, and it is gone, so exactly
 * one of several racing starts wins and the others find a live lock.
 */
export class DataDirLock {
  private constructor(
    private readonly file: string,
    readonly info: HubLockInfo,
  ) {}

  static async acquire(dataDir: string, host: string, port: number): Promise<DataDirLock> {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const file = lockFileIn(dataDir);
    const start = processStart(process.pid);
    const boot = bootId();
    const info: HubLockInfo = {
      pid: process.pid,
      host,
      port,
      control_secret: randomBytes(32).toString('base64url'),
      started_at: new Date().toISOString(),
      ...(start ? { process_start: start } : {}),
      ...(boot ? { boot_id: boot } : {}),
    };
    const staged = `${file}.${randomBytes(8).toString('hex')}.new`;
    // Registered before the file is visible: a racing acquirer in this same process must see it as held.
    heldHere.add(info.control_secret);
    try {
      await writeFile(staged, JSON.stringify(info), { mode: 0o600, flag: 'wx' });
      for (let attempt = 0; attempt < 20; attempt++) {
        if (await linkIfAbsent(staged, file)) {
          return new DataDirLock(file, info);
        }
        const current = await readText(file);
        if (current === null) {
          continue;
        }
        const holder = parseLock(current);
        if (holder && holderAlive(holder)) {
          throw lockedError(holder, dataDir);
        }
        if (await takeOver(file, current, staged)) {
          return new DataDirLock(file, info);
        }
        // Someone else is taking this stale lock over: look again once they are done.
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(
        `could not lock ${dataDir}: a take-over of a stale ${LOCK_FILE_NAME} did not finish; if no Marvain process is starting, remove ${file}.claim-*`,
      );
    } catch (error) {
      heldHere.delete(info.control_secret);
      throw error;
    } finally {
      await rm(staged, { force: true });
    }
  }

  async publishPort(port: number): Promise<void> {
    this.info.port = port;
    const staged = `${this.file}.${randomBytes(8).toString('hex')}.new`;
    await writeFile(staged, JSON.stringify(this.info), { mode: 0o600 });
    await rename(staged, this.file);
  }

  /** Removes the lock file if it is still this process's (never another's that took over meanwhile). */
  async release(): Promise<void> {
    if (!heldHere.delete(this.info.control_secret)) {
      return;
    }
    const current = await readText(this.file).catch(() => null);
    if (current !== null && parseLock(current)?.control_secret === this.info.control_secret) {
      await rm(this.file, { force: true });
    }
  }
}

function lockedError(holder: Partial<HubLockInfo>, dataDir: string): Error {
  return new Error(
    `another Marvain process (pid ${String(holder.pid)}) is using ${dataDir}; stop it first or choose another MARVAIN_DATA_DIR`,
  );
}

async function linkIfAbsent(staged: string, file: string): Promise<boolean> {
  try {
    await link(staged, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      return false;
    }
    throw error;
  }
}

/** Replaces the stale lock whose bytes are `stale` with `staged`, if this caller wins its claim. */
async function takeOver(file: string, stale: string, staged: string): Promise<boolean> {
  const claim = `${file}.claim-${createHash('sha256').update(stale).digest('hex').slice(0, 32)}`;
  try {
    await writeFile(claim, String(process.pid), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      return false;
    }
    throw error;
  }
  try {
    // Still the very lock judged stale? (Another claimant may already have replaced it.)
    if ((await readText(file)) !== stale) {
      return false;
    }
    await rename(staged, file);
    return true;
  } finally {
    await rm(claim, { force: true });
  }
}
