import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ActionsModule } from '@marvain/actions';
import { AuditModule, SchemaAuditor } from '@marvain/audit';
import { CommandsModule } from '@marvain/commands';
import { DbModule, type DatabaseHandle } from '@marvain/db';
import { EventsModule } from '@marvain/events';
import { AuthGuard, IdentityModule } from '@marvain/identity';
import { LivekitModule } from '@marvain/livekit';
import { MemoryModule } from '@marvain/memory';
import { PlannerModule } from '@marvain/planner';
import { PresenceModule } from '@marvain/presence';
import { DomainErrorFilter, HubConfig, LocalAdaptersModule, PlatformModule } from '@marvain/platform';
import { AwsAdaptersModule } from '@marvain/platform-aws';
import { LocalConnectionsModule, RealtimeModule, StoredFanoutModule } from '@marvain/realtime';
import { SpacesModule } from '@marvain/spaces';
import { HealthController } from './health.controller';
import { SatelliteDownloadController } from './satellite-download.controller';
import { LocalControlController } from './local/local-control.controller';
import { OperatorControlController } from './local/operator-control.controller';
import { LOCAL_CONTROL_SECRET } from './local-control.token';

export interface HubModuleOptions {
  /** An already open database (tests); otherwise the module opens the configured one. */
  databaseHandle?: DatabaseHandle;
  /** The secret that guards the local control endpoint (set by the local runtime only). */
  localControlSecret?: string;
}

/** The hub: every feature module, composed once for every runtime. */
@Module({})
export class HubModule {
  static forRoot(config: HubConfig, options: HubModuleOptions = {}): DynamicModule {
    return {
      module: HubModule,
      imports: [
        DbModule.forRoot({
          target: config.database,
          migrate: config.runtime === 'local',
          ...(options.databaseHandle ? { handle: options.databaseHandle } : {}),
        }),
        PlatformModule.forRoot(config, runtimeAdapters(config)),
        AuditModule,
        IdentityModule,
        SpacesModule,
        PresenceModule,
        LivekitModule,
        EventsModule,
        MemoryModule,
        ActionsModule,
        CommandsModule,
        PlannerModule,
        RealtimeModule,
      ],
      controllers: [
        HealthController,
        SatelliteDownloadController,
        ...(options.localControlSecret ? [LocalControlController, OperatorControlController] : []),
      ],
      providers: [
        SchemaAuditor,
        { provide: APP_GUARD, useExisting: AuthGuard },
        { provide: APP_FILTER, useClass: DomainErrorFilter },
        { provide: LOCAL_CONTROL_SECRET, useValue: options.localControlSecret ?? null },
      ],
    };
  }
}

/** The adapters of the configured runtime's ports: the platform's (queue, audit sink), realtime's (connections) and the stream publisher. */
function runtimeAdapters(config: HubConfig): Array<DynamicModule | Type> {
  return config.runtime === 'aws'
    ? [AwsAdaptersModule.forRoot(config), StoredFanoutModule]
    : [LocalAdaptersModule.forRoot(config), LocalConnectionsModule];
}
