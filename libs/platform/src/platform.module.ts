import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { Kysely } from 'kysely';
import { KYSELY, type Database } from '@marvain/db';
import { HubConfig } from './config/hub-config';
import { CLOCK, IDS, SystemClock, SystemIds } from './ports';
import { MESSAGE_QUEUE } from './queue/message-queue';
import { TableQueue } from './queue/table-queue';
import { AUDIT_SINK } from './audit-sink/audit-sink';
import { FileAuditSink } from './audit-sink/file-audit-sink';

/**
 * Config and the adapters that are not feature-specific. Each port gets its local or AWS
 * adapter here, once, from config; nothing downstream asks which runtime it is in.
 */
@Global()
@Module({})
export class PlatformModule {
  static forRoot(config: HubConfig): DynamicModule {
    return {
      module: PlatformModule,
      providers: [
        { provide: HubConfig, useValue: config },
        { provide: CLOCK, useClass: SystemClock },
        { provide: IDS, useClass: SystemIds },
        {
          provide: MESSAGE_QUEUE,
          inject: [KYSELY],
          useFactory: (db: Kysely<Database>) => new TableQueue(db, config.queue.maxReceives),
        },
        { provide: AUDIT_SINK, useFactory: () => new FileAuditSink(config.auditDir) },
      ],
      exports: [HubConfig, CLOCK, IDS, MESSAGE_QUEUE, AUDIT_SINK],
    };
  }
}
