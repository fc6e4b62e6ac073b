import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { HubConfig, LoggerFactory, type HubLogger } from '@marvain/platform';
import { AgentCredentialsRepository } from './agent-credentials.repository';

export const ASSERTION_PURGE_INTERVAL_MS = 10 * 60 * 1000;

/**
 * Forgets used assertion ids once they are past their expiry: an expired assertion is refused
 * on its own, so only unexpired ids need remembering to stop replays.
 */
@Injectable()
export class AssertionJanitor implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger: HubLogger;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly repository: AgentCredentialsRepository,
    private readonly config: HubConfig,
    logs: LoggerFactory,
  ) {
    this.logger = logs.forContext('AgentAssertions');
  }

  onApplicationBootstrap(): void {
    if (!this.config.workers) {
      return;
    }
    this.timer = setInterval(() => void this.purge(), ASSERTION_PURGE_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) {
      clearInterval(this.timer);
    }
    this.timer = null;
  }

  async purge(): Promise<number> {
    try {
      return await this.repository.purgeExpiredJtis();
    } catch (error) {
      this.logger.warn(`purging expired assertion ids failed, will retry: ${String(error)}`);
      return 0;
    }
  }
}
