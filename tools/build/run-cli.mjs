#!/usr/bin/env node
// Runs the CLI bundle, rebuilding it first when any TypeScript source is newer than the bundle.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from './bundle.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const outfile = path.join(root, 'dist', 'cli', 'main.cjs');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      newest = Math.max(newest, newestSource(full));
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) {
      newest = Math.max(newest, statSync(full).mtimeMs);
    }
  }
  return newest;
}

const sources = [
  path.join(root, 'apps', 'cli', 'src'),
  ...readdirSync(path.join(root, 'libs')).map((lib) => path.join(root, 'libs', lib, 'src')),
];
const stale =
  !existsSync(outfile) ||
  Math.max(statSync(path.join(root, 'tsconfig.base.json')).mtimeMs, ...sources.filter(existsSync).map(newestSource)) >
    statSync(outfile).mtimeMs;
if (stale) {
  await bundle('cli');
}
createRequire(import.meta.url)(outfile);
