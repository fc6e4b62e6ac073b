#!/usr/bin/env node
// `npm run test:data-api`: the database/repository tests (*.db.spec.ts) and the end-to-end tests
// (*.e2e.spec.ts) with every query going through the RDS Data API dialect (kysely-data-api + the
// real RDSDataClient) to the local Data API endpoint (tools/data-api/server.ts), which each test
// file starts in-process in front of a fresh PGlite, or of a fresh PostgreSQL database when
// DATABASE_URL is set.
// Usage: npm run test:data-api [-- <extra jest args>]
//   MARVAIN_DATA_API_LOG=errors   print every error the endpoint answers (SQL included) to stderr
//   DATA_API_TESTS=db             only the database tests (default: db,e2e)
// apps/hub/src/lambda/ is left out: those tests start their own Data API endpoint in front of a
// PGlite of their own, so the data-api test database mode has nothing to add to them.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const kinds = (process.env.DATA_API_TESTS || 'db,e2e')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);

const child = spawn(
  process.execPath,
  [
    '--experimental-vm-modules',
    '--no-warnings=ExperimentalWarning',
    path.join(root, 'node_modules/jest/bin/jest.js'),
    `--testPathPatterns=\\.(${kinds.join('|')})\\.spec\\.ts$`,
    '--testPathIgnorePatterns=/apps/hub/src/lambda/',
    ...process.argv.slice(2),
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, MARVAIN_TEST_DB: 'data-api' } },
);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal));
}
child.on('error', (error) => {
  console.error(`test:data-api: failed to start jest: ${error.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
