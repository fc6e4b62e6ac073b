import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ModuleMetadata } from '@nestjs/common';
import { Test, type TestingModule, type TestingModuleBuilder } from '@nestjs/testing';
import { DbModule } from '@marvain/db';
import { createTestDatabase, type TestDatabase } from '@marvain/db/testing';
import { HubConfig, loadHubSettings, type HubSettings } from '../config/hub-config';
import { createRootLogger, PinoNestLogger } from '../logging/logger';
import { PlatformModule } from '../platform.module';

export * from './database-rows';
export * from './refused';
export * from './eventually';

/**
 * Settings for a hub under test: a fresh temporary data folder, no workers and no first-run
 * bootstrap unless asked. Logs are silent: specs provoke failures on purpose, and the hub's
 * reports of those would read as real errors in the test output. A spec fails by its assertions,
 * not by a log line; to read the hub's logs while debugging, run with MARVAIN_TEST_LOG_LEVEL=debug.
 */
export function testHubConfig(overrides: Partial<HubSettings> = {}): HubConfig {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'marvain-test-'));
  const settings = loadHubSettings(
    {
      MARVAIN_DATA_DIR: dataDir,
      MARVAIN_CONFIG: path.join(dataDir, 'marvain-config.yaml'),
      MARVAIN_PGLITE_DIR: 'memory',
      MARVAIN_LOG_LEVEL: process.env['MARVAIN_TEST_LOG_LEVEL'] || 'silent',
    },
    { workers: false, firstRunBootstrap: false, port: 0, ...overrides },
  );
  return new HubConfig(settings);
}

/**
 * The harness every database-backed feature test uses: a fresh migrated database (see
 * createTestDatabase), the real DbModule and PlatformModule, and the feature modules under test,
 * initialised. `close()` runs `beforeClose`, then tears down the module, then the database and the
 * data folder, each only when the harness made it; every step runs even when one before it failed.
 */
export interface FeatureTestContext {
  moduleRef: TestingModule;
  db: TestDatabase;
  config: HubConfig;
  close(): Promise<void>;
}

export interface FeatureTestOptions {
  /** Settings to run with; the caller keeps its data folder. Default: testHubConfig(). */
  config?: HubConfig;
  /** A database to run on, e.g. a second module over another context's database; the caller keeps it. Default: a fresh one. */
  db?: TestDatabase;
  /** Changes to the module before it compiles, e.g. `builder.overrideProvider(CLOCK).useValue(clock)`. */
  customize?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
  /** Runs first in close(), while module and database are still up (e.g. to let audit copies finish). */
  beforeClose?: (moduleRef: TestingModule) => Promise<unknown>;
}

export async function openFeatureTestContext(
  imports: NonNullable<ModuleMetadata['imports']>,
  options: FeatureTestOptions = {},
): Promise<FeatureTestContext> {
  const db = options.db ?? (await createTestDatabase());
  const config = options.config ?? testHubConfig();
  // The hub's own log pipeline at the config's level; Nest's default testing logger prints every error.
  const builder = Test.createTestingModule({
    imports: [
      DbModule.forRoot({ target: config.database, migrate: false, handle: db }),
      PlatformModule.forRoot(config),
      ...imports,
    ],
  }).setLogger(new PinoNestLogger(createRootLogger(config)));
  const moduleRef = await (options.customize ? options.customize(builder) : builder).compile();
  await moduleRef.init();
  return {
    moduleRef,
    db,
    config,
    close: () =>
      allInOrder([
        () => options.beforeClose?.(moduleRef),
        () => moduleRef.close(),
        () => (options.db ? undefined : db.close()),
        () => (options.config ? undefined : rmSync(config.dataDir, { recursive: true, force: true })),
      ]),
  };
}

/** Runs every step, in order, even after one fails; then fails with what failed. */
async function allInOrder(steps: ReadonlyArray<() => unknown>): Promise<void> {
  const failures: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length === 1) {
    throw failures[0];
  }
  if (failures.length > 1) {
    throw new AggregateError(failures, `${failures.length} steps of closing the feature test context failed`);
  }
}
