#!/usr/bin/env node
// `npm run bench:data-api`: RDS Data API round trips per REST route (see tools/bench/data-api.ts).
// Bundles data-api.ts with esbuild to dist/data-api-bench/bench.cjs, TypeScript through swc first
// (esbuild alone drops the decorator metadata Nest's dependency injection reads), then runs it.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleScript } from '../build/bundle.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const outfile = await bundleScript(
  path.join(root, 'tools/bench/data-api.ts'),
  path.join(root, 'dist', 'data-api-bench', 'bench.cjs'),
);

const run = spawnSync(process.execPath, ['--enable-source-maps', outfile, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
