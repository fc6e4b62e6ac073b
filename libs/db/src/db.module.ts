import { Global, Inject, Logger, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { Kysely } from 'kysely';
import { openDatabase, type DatabaseHandle, type DatabaseKind, type DatabaseTarget } from './database';
import { DATABASE_BINDING, readDatabaseIdentity, type DatabaseBinding } from './database-identity';
import { migrate, schemaVersion, vectorAvailable, type MigrationResult } from './migrator';
import type { Database } from './schema';
import { TransactionRunner } from './transaction';

export const KYSELY = Symbol('Kysely<Database>');
export const DATABASE_HANDLE = Symbol('DatabaseHandle');

/** Injects the Kysely instance (repositories only). */
export const InjectKysely = (): ParameterDecorator => Inject(KYSELY);

/** Facts about the open database, fixed at start-up. */
export class DatabaseInfo {
  constructor(
    readonly kind: DatabaseKind,
    readonly schemaVersion: string | null,
    readonly vector: boolean,
    /** What start-up migration applied (empty when the schema was already current). */
    readonly migration: MigrationResult,
  ) {}
}

export interface DbModuleOptions {
  target: DatabaseTarget;
  /** Apply pending migrations at start-up (the local runtime does; Lambda leaves it to `marvain init db`). */
  migrate: boolean;
  /** An already open database (tests share one per file); the module will not close it. */
  handle?: DatabaseHandle;
}

class DatabaseCloser implements OnApplicationShutdown {
  constructor(
    private readonly handle: DatabaseHandle,
    private readonly owned: boolean,
  ) {}
  async onApplicationShutdown(): Promise<void> {
    if (this.owned) {
      await this.handle.close();
    }
  }
}

@Global()
@Module({})
export class DbModule {
  static forRoot(options: DbModuleOptions): DynamicModule {
    const logger = new Logger('Database');
    return {
      module: DbModule,
      providers: [
        {
          provide: DATABASE_HANDLE,
          inject: [{ token: DATABASE_BINDING, optional: true }],
          useFactory: async (binding: DatabaseBinding | undefined): Promise<DatabaseHandle> => {
            if (options.handle) {
              return options.handle;
            }
            await binding?.beforeOpen(options.target);
            return openDatabase(options.target);
          },
        },
        { provide: KYSELY, inject: [DATABASE_HANDLE], useFactory: (handle: DatabaseHandle) => handle.db },
        {
          provide: DatabaseInfo,
          inject: [DATABASE_HANDLE, { token: DATABASE_BINDING, optional: true }],
          useFactory: async (handle: DatabaseHandle, binding: DatabaseBinding | undefined) => {
            // What is bound to one database (the audit folder) is checked before anything is written.
            const identity = binding ? await readDatabaseIdentity(handle.db) : null;
            if (binding && identity) {
              await binding.check(identity, options.target);
            }
            const result: MigrationResult = options.migrate
              ? await migrate(handle.db)
              : { applied: [], schemaVersion: null };
            if (binding && identity) {
              const databaseId = identity.databaseId ?? (await readDatabaseIdentity(handle.db)).databaseId;
              if (databaseId) {
                await binding.record(databaseId);
              }
            }
            if (result.applied.length > 0) {
              logger.log(`applied migrations ${result.applied.join(', ')}`);
            }
            return new DatabaseInfo(
              handle.kind,
              await schemaVersion(handle.db).catch(() => null),
              await vectorAvailable(handle.db),
              result,
            );
          },
        },
        {
          provide: TransactionRunner,
          inject: [KYSELY],
          useFactory: (db: Kysely<Database>) =>
            new TransactionRunner(db, (error) => logger.error(`after-commit callback failed: ${String(error)}`)),
        },
        {
          provide: DatabaseCloser,
          inject: [DATABASE_HANDLE],
          useFactory: (handle: DatabaseHandle) => new DatabaseCloser(handle, !options.handle),
        },
      ],
      exports: [KYSELY, DATABASE_HANDLE, DatabaseInfo, TransactionRunner],
    };
  }
}
