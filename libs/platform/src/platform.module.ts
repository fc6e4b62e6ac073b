import { Global, Module, type DynamicModule, type Provider } from '@nestjs/common';
import type { Kysely } from 'kysely';
import { DATABASE_BINDING, KYSELY, type Database } from '@marvain/db';
import { HubConfig, type AwsSettings } from './config/hub-config';
import { CLOCK, IDS, SystemClock, SystemIds, type Clock } from './ports';
import { MESSAGE_QUEUE } from './queue/message-queue';
import { TableQueue } from './queue/table-queue';
import { ProcessReceiver } from './queue/queue-receiver';
import { AUDIT_SINK } from './audit-sink/audit-sink';
import { FileAuditSink } from './audit-sink/file-audit-sink';
import { AuditFolderBinding } from './audit-sink/audit-folder-binding';
import type { AuditSink } from './audit-sink/audit-sink';
import { CONNECTION_STORE, type ConnectionStore } from './realtime/connection-store';
import { CONNECTION_PUSH } from './realtime/connection-push';
import { MemoryConnectionStore } from './realtime/memory-connection-store';
import { WebSocketPush } from './realtime/websocket-push';
import { awsAdapters } from './aws/aws-adapters';

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
        ...(config.runtime === 'aws' ? awsProviders(config) : localProviders(config)),
      ],
      exports: [
        HubConfig,
        CLOCK,
        IDS,
        MESSAGE_QUEUE,
        AUDIT_SINK,
        CONNECTION_STORE,
        CONNECTION_PUSH,
        WebSocketPush,
        // Local only: the audit folder is bound to its database (see AuditFolderBinding for why not on AWS).
        ...(config.runtime === 'aws' ? [] : [DATABASE_BINDING]),
      ],
    };
  }
}

/** Queue table, write-once files, connections in memory, push through the local `ws` sockets. */
function localProviders(config: HubConfig): Provider[] {
  return [
    {
      provide: MESSAGE_QUEUE,
      inject: [KYSELY],
      useFactory: (db: Kysely<Database>) =>
        new TableQueue(db, config.queue.maxReceives, new ProcessReceiver(config.dataDir)),
    },
    { provide: AUDIT_SINK, useFactory: () => new FileAuditSink(config.auditDir) },
    { provide: DATABASE_BINDING, inject: [AUDIT_SINK], useFactory: (sink: AuditSink) => new AuditFolderBinding(sink) },
    { provide: CONNECTION_STORE, inject: [CLOCK], useFactory: (clock: Clock) => new MemoryConnectionStore(clock) },
    {
      provide: WebSocketPush,
      inject: [CONNECTION_STORE],
      useFactory: (store: ConnectionStore) => new WebSocketPush(store),
    },
    { provide: CONNECTION_PUSH, useExisting: WebSocketPush },
  ];
}

/** SQS, S3 with Object Lock, DynamoDB and the API Gateway Management API. */
function awsProviders(config: HubConfig): Provider[] {
  const aws: AwsSettings | undefined = config.aws;
  if (!aws) {
    throw new Error('the AWS runtime needs config.aws (loadHubSettings reads it when MARVAIN_RUNTIME=aws)');
  }
  return [
    { provide: MESSAGE_QUEUE, useFactory: () => awsAdapters.messageQueue(aws, config.queue) },
    { provide: AUDIT_SINK, inject: [CLOCK], useFactory: (clock: Clock) => awsAdapters.auditSink(aws, clock) },
    {
      provide: CONNECTION_STORE,
      inject: [CLOCK],
      useFactory: (clock: Clock) => awsAdapters.connectionStore(aws, clock),
    },
    {
      provide: CONNECTION_PUSH,
      inject: [CONNECTION_STORE],
      useFactory: (store: ConnectionStore) => awsAdapters.connectionPush(aws, store),
    },
    // No local sockets exist on AWS; the registry stays empty, so code that registers sockets still resolves.
    {
      provide: WebSocketPush,
      inject: [CONNECTION_STORE],
      useFactory: (store: ConnectionStore) => new WebSocketPush(store),
    },
  ];
}
