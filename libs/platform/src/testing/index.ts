import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HubConfig, loadHubSettings, type HubSettings } from '../config/hub-config';

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
