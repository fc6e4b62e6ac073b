import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { HEARTBEAT_INTERVAL_SECONDS } from '@marvain/contracts';
import { CLOCK, HubConfig, LoggerFactory, type Clock, type HubLogger } from '@marvain/platform';
import { AgentStream } from '@marvain/streams';
import { PresenceService } from './presence.service';

/** How often the local runtime runs maintenance, in ms; a spec binds a shorter one. */
export const MAINTENANCE_INTERVAL_MS = Symbol('MaintenanceIntervalMs');
export const DEFAULT_MAINTENANCE_INTERVAL_MS = HEARTBEAT_INTERVAL_SECONDS * 1000;

export interface MaintenanceResult {
  /** Presence rows that went offline. */
  swept: number;
  /** Stream entries deleted by retention. */
  pruned: number;
  /** Device commands that expired (see MaintenanceTasks). */
  commands_expired: number;
}

/** The counts maintenance tasks of other features report, by name (each a field of MaintenanceResult). */
export type MaintenanceTaskName = Exclude<keyof MaintenanceResult, 'swept' | 'pruned'>;

/** Upkeep of a feature that depends on this one (expiring device commands): it registers on init. */
export interface MaintenanceTask {
  readonly name: MaintenanceTaskName;
  /** Does one run's work; resolves to how many things it changed. */
  run(): Promise<number>;
}

/**
 * The tasks maintenance runs after its own, in registration order. A feature module registers its
 * task in `onModuleInit`, so presence never depends on the features it runs upkeep for.
 */
@Injectable()
export class MaintenanceTasks {
  private readonly tasks: MaintenanceTask[] = [];

  register(task: MaintenanceTask): void {
    if (!this.tasks.includes(task)) {
      this.tasks.push(task);
    }
  }

  all(): readonly MaintenanceTask[] {
    return this.tasks;
  }
}

/**
 * The hub's periodic upkeep, the same on both runtimes (the local worker below, the scheduled
 * `maintenance` Lambda on AWS): stale presence goes offline, stream entries older than
 * MARVAIN_STREAM_RETENTION_DAYS are deleted, then each registered MaintenanceTask runs (device
 * commands past their TTL expire).
 */
@Injectable()
export class MaintenanceService {
  constructor(
    private readonly presence: PresenceService,
    private readonly stream: AgentStream,
    private readonly config: HubConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly tasks: MaintenanceTasks,
  ) {}

  async run(): Promise<MaintenanceResult> {
    const swept = await this.presence.sweep();
    const before = new Date(this.clock.now().getTime() - this.config.streamRetentionDays * 24 * 3600 * 1000);
    const pruned = await this.stream.prune(before);
    const result: MaintenanceResult = { swept, pruned, commands_expired: 0 };
    for (const task of this.tasks.all()) {
      result[task.name] += await task.run();
    }
    return result;
  }
}

/** Runs maintenance every interval in a process that runs workers (the local runtime); a run never overlaps the last. */
@Injectable()
export class MaintenanceWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger: HubLogger;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;

  constructor(
    private readonly maintenance: MaintenanceService,
    private readonly config: HubConfig,
    logs: LoggerFactory,
    @Inject(MAINTENANCE_INTERVAL_MS) private readonly intervalMs: number,
  ) {
    this.logger = logs.forContext('Maintenance');
  }

  onApplicationBootstrap(): void {
    if (!this.config.workers) {
      return;
    }
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) {
      clearInterval(this.timer);
    }
    this.timer = null;
    // A run in flight finishes before the database it uses closes.
    await this.running;
  }

  private async tick(): Promise<void> {
    if (this.running) {
      return;
    }
    this.running = this.maintenance
      .run()
      .then((result) => {
        if (Object.values(result).some((count) => count > 0)) {
          this.logger.debug({ msg: 'maintenance ran', ...result });
        }
      })
      .catch((error: unknown) => this.logger.warn(`maintenance failed, will retry: ${String(error)}`))
      .finally(() => {
        this.running = null;
      });
    await this.running;
  }
}
