#!/usr/bin/env node
// Runs the CLI bundle, rebuilding it first when any TypeScript source is newer than the bundle.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { root, runFresh } from './run-fresh.mjs';

await runFresh('cli', path.join(root, 'dist', 'cli', 'main.cjs'), [
  path.join(root, 'apps', 'cli', 'src'),
  ...readdirSync(path.join(root, 'libs')).map((lib) => path.join(root, 'libs', lib, 'src')),
]);
