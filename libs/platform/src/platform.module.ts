import { Global, Module, type DynamicModule, type ModuleMetadata } from '@nestjs/common';
import type { Kysely } from 'kysely';
import { DATABASE_BINDING, KYSELY, type Database } from '@marvain/db';
import { HubConfig } from './config/hub-config';
import { CLOCK, IDS, SystemClock, SystemIds } from './ports';
import { MESSAGE_QUEUE } from './queue/message-queue';
import { TableQueue } from './queue/table-queue';
import { ProcessReceiver } from './queue/queue-receiver';
import { AUDIT_SINK, type AuditSink } from './audit-sink/audit-sink';
import { FileAuditSink } from './audit-sink/file-audit-sink';
import { AuditFolderBinding } from './audit-sink/audit-folder-binding';

/**
 * Config, clock and ids, and the adapters of the ports, once, for the whole hub. The app passes the
 * adapters of its runtime (the AWS ones come from @marvain/platform-aws); without any, the local
 * message queue and audit sink.
 */
@Global()
@Module({})
export class PlatformModule {
  static forRoot(
    config: HubConfig,
    adapters: NonNullable<ModuleMetadata['imports']> = [LocalAdaptersModule.forRoot(config)],
  ): DynamicModule {
    return {
      module: PlatformModule,
      imports: adapters,
      providers: [
        { provide: HubConfig, useValue: config },
        { provide: CLOCK, useClass: SystemClock },
        { provide: IDS, useClass: SystemIds },
      ],
      exports: [HubConfig, CLOCK, IDS],
    };
  }
}

/** The local runtime's adapters: the queue table, write-once files, the audit folder bound to its database. */
@Module({})
export class LocalAdaptersModule {
  static forRoot(config: HubConfig): DynamicModule {
    if (config.runtime !== 'local') {
      throw new Error(
        `the ${config.runtime} runtime has its own adapters (AwsAdaptersModule in @marvain/platform-aws)`,
      );
    }
    return {
      global: true,
      module: LocalAdaptersModule,
      providers: [
        {
          provide: MESSAGE_QUEUE,
          inject: [KYSELY],
          useFactory: (db: Kysely<Database>) =>
            new TableQueue(db, config.queue.maxReceives, new ProcessReceiver(config.dataDir)),
        },
        { provide: AUDIT_SINK, useFactory: () => new FileAuditSink(config.auditDir) },
        // Local only: see AuditFolderBinding for why the AWS runtime has no such binding.
        {
          provide: DATABASE_BINDING,
          inject: [AUDIT_SINK],
          useFactory: (sink: AuditSink) => new AuditFolderBinding(sink),
        },
      ],
      exports: [MESSAGE_QUEUE, AUDIT_SINK, DATABASE_BINDING],
    };
  }
}
