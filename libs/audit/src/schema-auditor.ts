import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { AuditService } from './audit.service';
import { DatabaseInfo, TransactionRunner } from '@marvain/db';
import { HubConfig } from '@marvain/platform';

/** Schema initialisation is a high-impact step: record every migration run in the system chain. */
@Injectable()
export class SchemaAuditor implements OnApplicationBootstrap {
  constructor(
    private readonly database: DatabaseInfo,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    private readonly config: HubConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { applied, schemaVersion } = this.database.migration;
    if (applied.length > 0) {
      await this.transactions.run((tx) =>
        this.audit.append(tx, {
          agentId: null,
          action: 'schema.migrated',
          actor: { type: 'system', id: 'migrator' },
          details: { applied, schema_version: schemaVersion, database: this.database.kind },
        }),
      );
    }
    // Entries committed by an earlier process but not yet copied to the sink. Long-running
    // processes only: a Lambda cold start skips this query (the next append's flush copies them).
    if (this.config.workers) {
      await this.audit.flush();
    }
  }
}
