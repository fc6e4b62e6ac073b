#!/usr/bin/env node
// `npm run bench:data-api`: RDS Data API round trips per REST route (see tools/data-api/bench.ts).
// Bundles bench.ts with esbuild to dist/data-api-bench/bench.cjs, TypeScript through swc first
// (esbuild alone drops the decorator metadata Nest's dependency injection reads), then runs it.
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { transform } from '@swc/core';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { compilerOptions } = JSON.parse(await readFile(path.join(root, 'tsconfig.base.json'), 'utf8'));
const alias = Object.fromEntries(Object.entries(compilerOptions.paths).map(([name, [target]]) => [name, path.join(root, target)]));
const outfile = path.join(root, 'dist', 'data-api-bench', 'bench.cjs');

await build({
  entryPoints: [path.join(root, 'tools/data-api/bench.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  alias,
  sourcemap: 'inline',
  keepNames: true,
  logLevel: 'warning',
  plugins: [
    {
      name: 'swc-typescript',
      setup(b) {
        b.onLoad({ filter: /\.ts$/ }, async (args) => {
          const output = await transform(await readFile(args.path, 'utf8'), {
            filename: args.path,
            sourceMaps: 'inline',
            jsc: {
              parser: { syntax: 'typescript', decorators: true },
              transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
              target: 'es2022',
              keepClassNames: true,
            },
            module: { type: 'es6' },
          });
          return { contents: output.code, loader: 'js' };
        });
      },
    },
  ],
});

const run = spawnSync(process.execPath, ['--enable-source-maps', outfile, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.exit(run.status ?? 1);
