import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ModuleMetadata } from '@nestjs/common';
import { Test, type TestingModule, type TestingModuleBuilder } from '@nestjs/testing';
import { DbModule } from '@marvain/db';
import { createTestDatabase, type TestDatabase } from '@marvain/db/testing';
import { HubConfig, loadHubSettings, type HubSettings } from '../config/hub-config';
import { PlatformModule } from '../platform.module';

/**
 * Settings for a hub under test: a fresh temporary data folder, no workers and no first-run
 * bootstrap unless asked, quiet logs. The database comes from the test (createTestDatabase).
 */
export function testHubConfig(overrides: Partial<HubSettings> = {}): HubConfig {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'marvain-test-'));
  const settings = loadHubSettings(
    { MARVAIN_DATA_DIR: dataDir, MARVAIN_CONFIG: path.join(dataDir, 'marvain-config.yaml'), MARVAIN_PGLITE_DIR: 'memory' },
    { logLevel: 'silent', workers: false, firstRunBootstrap: false, port: 0, ...overrides },
  );
  return new HubConfig(settings);
}

/**
 * The harness every database-backed feature test uses: a fresh migrated database (see
 * createTestDatabase), the real DbModule and PlatformModule, and the feature modules under test,
 * initialised. `close()` tears down the module before the database.
 */
export interface FeatureTestContext {
  moduleRef: TestingModule;
  db: TestDatabase;
  config: HubConfig;
  close(): Promise<void>;
}

export async function openFeatureTestContext(
  imports: NonNullable<ModuleMetadata['imports']>,
  options: { config?: HubConfig; customize?: (builder: TestingModuleBuilder) => TestingModuleBuilder } = {},
): Promise<FeatureTestContext> {
  const db = await createTestDatabase();
  const config = options.config ?? testHubConfig();
  const builder = Test.createTestingModule({
    imports: [DbModule.forRoot({ target: config.database, migrate: false, handle: db }), PlatformModule.forRoot(config), ...imports],
  });
  const moduleRef = await (options.customize ? options.customize(builder) : builder).compile();
  await moduleRef.init();
  return {
    moduleRef,
    db,
    config,
    close: async () => {
      try {
        await moduleRef.close();
      } finally {
        await db.close();
      }
    },
  };
}
