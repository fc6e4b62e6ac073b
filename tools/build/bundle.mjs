#!/usr/bin/env node
// Bundles an app entry with esbuild. TypeScript goes through swc first, because esbuild alone
// drops the decorator metadata Nest's dependency injection reads.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { transform } from '@swc/core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { compilerOptions } = JSON.parse(await readFile(path.join(root, 'tsconfig.base.json'), 'utf8'));

export const ENTRIES = {
  hub: 'apps/hub/src/main.ts',
  cli: 'apps/cli/src/main.ts',
};

const swcTypescript = {
  name: 'swc-typescript',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const output = await transform(source, {
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
};

const alias = Object.fromEntries(Object.entries(compilerOptions.paths).map(([name, [target]]) => [name, path.join(root, target)]));

/** Builds one entry to dist/<name>/main.cjs. Dependencies stay in node_modules (the local runtime has them). */
export async function bundle(name, { outdir = path.join(root, 'dist', name) } = {}) {
  const entry = ENTRIES[name];
  if (!entry) throw new Error(`unknown entry ${name}; known: ${Object.keys(ENTRIES).join(', ')}`);
  const outfile = path.join(outdir, 'main.cjs');
  await build({
    entryPoints: [path.join(root, entry)],
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
    plugins: [swcTypescript],
  });
  return outfile;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const names = process.argv.slice(2);
  for (const name of names.length ? names : Object.keys(ENTRIES)) {
    console.log(`built ${path.relative(root, await bundle(name))}`);
  }
}
