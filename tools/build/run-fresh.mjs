// Runs a bundle in this process, rebuilding it first when any TypeScript source it is built from
// (or tsconfig.base.json) is newer than the bundle: what ./bin/marvain and ./bin/marvain-satellite use.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from './bundle.mjs';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

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

/** Builds `name` (an entry of bundle.mjs) into `outfile` when stale, then runs it. */
export async function runFresh(name, outfile, sourceDirs) {
  const stale =
    !existsSync(outfile) ||
    Math.max(
      statSync(path.join(root, 'tsconfig.base.json')).mtimeMs,
      ...sourceDirs.filter(existsSync).map(newestSource),
    ) > statSync(outfile).mtimeMs;
  if (stale) {
    await bundle(name);
  }
  createRequire(import.meta.url)(outfile);
}
