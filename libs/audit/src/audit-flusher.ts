import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { HubConfig, LoggerFactory, type HubLogger } from '@marvain/platform';
import { AuditService } from './audit.service';

export const AUDIT_FLUSH_INTERVAL_MS = 15_000;

/**
 * Copies are made right after each commit; this retries the ones that failed (sink briefly
 * unavailable) in a long-running process, so none waits for the next audited change.
 */
@Injectable()
export class AuditFlusher implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger: HubLogger;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly audit: AuditService,
    private readonly config: HubConfig,
    logs: LoggerFactory,
  ) {
    this.logger = logs.forContext('Audit');
  }

  onApplicationBootstrap(): void {
    if (!this.config.workers) {
      return;
    }
    this.timer = setInterval(() => {
      this.audit
        .flush()
        .catch((error: unknown) => this.logger.warn(`audit copy retry failed, will try again: ${String(error)}`));
    }, AUDIT_FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) {
      clearInterval(this.timer);
    }
    this.timer = null;
  }
}
