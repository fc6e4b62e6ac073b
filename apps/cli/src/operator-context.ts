import { Logger, Module, type DynamicModule, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AuditModule, SchemaAuditor } from '@marvain/audit';
import { DbModule } from '@marvain/db';
import { IdentityModule } from '@marvain/identity';
import { DataDirLock, HubConfig, PlatformModule } from '@marvain/platform';
import { LocalStreamBusModule } from '@marvain/streams';

/** The hub services the CLI needs when it works on the database directly (no hub running). */
@Module({})
class OperatorModule {
  static forRoot(config: HubConfig): DynamicModule {
    return {
      module: OperatorModule,
      imports: [
        DbModule.forRoot({ target: config.database, migrate: true }),
        PlatformModule.forRoot(config),
        AuditModule,
        // Presence writes stream entries; no subscriber lives in the CLI, a running hub reads them from the table.
        LocalStreamBusModule,
        IdentityModule,
      ],
      providers: [SchemaAuditor],
    };
  }
}

/**
 * Runs `work` with the hub's services on the configured database. With embedded PGlite the
 * data folder is locked for the duration, exactly as a running hub locks it.
 */
export async function withOperatorContext<T>(
  config: HubConfig,
  work: (context: INestApplicationContext) => Promise<T>,
): Promise<T> {
  const embedded = config.database.kind === 'pglite' && config.database.dataDir !== 'memory';
  const lock = embedded ? await DataDirLock.acquire(config.dataDir, config.host, 0) : null;
  try {
    Logger.overrideLogger(false);
    const context = await NestFactory.createApplicationContext(OperatorModule.forRoot(config), {
      logger: false,
      abortOnError: false,
    });
    try {
      await context.init();
      return await work(context);
    } finally {
      await context.close();
    }
  } finally {
    await lock?.release();
  }
}
