#!/usr/bin/env node
// Runs the satellite bundle, rebuilding it first when any of its TypeScript sources (the app and
// the contracts it imports) is newer than the bundle.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle, satelliteBundlePath } from './bundle.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const outfile = satelliteBundlePath();

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

const sources = [path.join(root, 'apps', 'satellite', 'src'), path.join(root, 'libs', 'contracts', 'src')];
const stale =
  !existsSync(outfile) ||
  Math.max(statSync(path.join(root, 'tsconfig.base.json')).mtimeMs, ...sources.map(newestSource)) >
    statSync(outfile).mtimeMs;
if (stale) {
  await bundle('satellite');
}
createRequire(import.meta.url)(outfile);
