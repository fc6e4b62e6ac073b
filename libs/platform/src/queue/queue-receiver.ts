import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { pidAlive } from '../local/process-liveness';

/**
 * Who receives queue messages: this process, tagged onto each message it receives, and the test
 * of whether a tag names an earlier process of the same hub that is gone. Several hubs may share
 * one PostgreSQL database, so a tag of another hub, or of a process still running, is never
 * a predecessor: those messages stay with their holder until its visibility timeout.
 */
export interface QueueReceiver {
  /** This process's tag, `<home>:<pid>:<nonce>`; the home prefix is what reclaimAbandoned looks up. */
  readonly tag: string;
  readonly home: string;
  /** True when `tag` is an earlier process of this hub (same home) that no longer runs. */
  isDeadPredecessor(tag: string): boolean;
}

/**
 * The local hub's receiver. Its home is the host and data folder, so only a hub (or CLI) run on
 * this machine over this data folder counts as a predecessor: pids are only meaningful on their own
 * host. A predecessor is gone when its pid is not running, or when its pid is ours (a container's
 * pid 1 after a restart): we are that pid now, and the nonce says we are a different process.
 */
export class ProcessReceiver implements QueueReceiver {
  readonly home: string;
  readonly tag: string;

  constructor(
    dataDir: string,
    private readonly pid: number = process.pid,
    private readonly alive: (pid: number) => boolean = pidAlive,
    host: string = hostname(),
  ) {
    this.home = createHash('sha256').update(`${host}\0${dataDir}`).digest('hex').slice(0, 16);
    this.tag = `${this.home}:${pid}:${randomUUID()}`;
  }

  isDeadPredecessor(tag: string): boolean {
    const [home, pidText, nonce] = tag.split(':');
    const pid = Number(pidText);
    if (home !== this.home || nonce === undefined || !Number.isSafeInteger(pid) || pid <= 0 || tag === this.tag) {
      return false;
    }
    return pid === this.pid || !this.alive(pid);
  }
}
