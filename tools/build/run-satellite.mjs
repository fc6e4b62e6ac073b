#!/usr/bin/env node
// Runs the satellite bundle, rebuilding it first when any of its TypeScript sources (the app and
// the contracts it imports) is newer than the bundle.
import path from 'node:path';
import { satelliteBundlePath } from './bundle.mjs';
import { root, runFresh } from './run-fresh.mjs';

await runFresh('satellite', satelliteBundlePath(), [
  path.join(root, 'apps', 'satellite', 'src'),
  path.join(root, 'libs', 'contracts', 'src'),
]);
