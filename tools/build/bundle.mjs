#!/usr/bin/env node
// Bundles the app entries with esbuild. TypeScript goes through swc first, because esbuild alone
// drops the decorator metadata Nest's dependency injection reads.
//
//   node tools/build/bundle.mjs                 everything: hub, cli and the five Lambda entries
//   node tools/build/bundle.mjs hub cli         the local runtime's bundles (dist/<name>/main.cjs)
//   node tools/build/bundle.mjs lambda          dist/lambda/{http,ws,planner,tool-runner,maintenance}/index.js
//   node tools/build/bundle.mjs lambda/http     one Lambda entry
//   node tools/build/bundle.mjs satellite       dist/satellite/marvain-satellite.cjs (self-contained)
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { transform } from '@swc/core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const { compilerOptions } = JSON.parse(await readFile(path.join(root, 'tsconfig.base.json'), 'utf8'));
// The repository's one swc configuration, shared with jest and editors (`$schema` is for editors only).
const swcrc = JSON.parse(await readFile(path.join(root, '.swcrc'), 'utf8'));
delete swcrc.$schema;

export const ENTRIES = {
  hub: 'apps/hub/src/main.ts',
  cli: 'apps/cli/src/main.ts',
  satellite: 'apps/satellite/src/main.ts',
};

/** The satellite daemon's one file: everything bundled, so a remote machine needs only Node ≥ 20. */
export const satelliteBundlePath = (outdir = path.join(root, 'dist', 'satellite')) =>
  path.join(outdir, 'marvain-satellite.cjs');

/** The AWS runtime's entries: each becomes dist/lambda/<name>/index.js exporting `handler`. */
export const LAMBDA_ENTRIES = {
  http: 'apps/hub/src/lambda/http.ts',
  ws: 'apps/hub/src/lambda/ws.ts',
  planner: 'apps/hub/src/lambda/planner.ts',
  'tool-runner': 'apps/hub/src/lambda/tool-runner.ts',
  maintenance: 'apps/hub/src/lambda/maintenance.ts',
};

/** The most a Lambda bundle (its index.js) may weigh. */
export const LAMBDA_BUNDLE_LIMIT_BYTES = 5 * 1024 * 1024;

export const lambdaBundlePath = (name) => path.join(root, 'dist', 'lambda', name, 'index.js');

// One swc transform per source file per process: the hub, cli and Lambda builds of one run
// (`npm run build`, `nx build hub`) share most of their sources.
const transformed = new Map();

function swcTransform(file, mtimeMs) {
  const cached = transformed.get(file);
  if (cached?.mtimeMs === mtimeMs) {
    return cached.code;
  }
  const code = readFile(file, 'utf8').then(async (source) => {
    const output = await transform(source, {
      filename: file,
      ...swcrc,
      swcrc: false,
      sourceMaps: 'inline',
      module: { type: 'es6' },
    });
    return output.code;
  });
  transformed.set(file, { mtimeMs, code });
  return code;
}

const swcTypescript = {
  name: 'swc-typescript',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => ({
      contents: await swcTransform(args.path, (await stat(args.path)).mtimeMs),
      loader: 'js',
    }));
  },
};

const alias = Object.fromEntries(
  Object.entries(compilerOptions.paths).map(([name, [target]]) => [name, path.join(root, target)]),
);

/** Builds one entry to dist/<name>/main.cjs. Dependencies stay in node_modules (the local runtime has them). */
export async function bundle(name, { outdir = path.join(root, 'dist', name) } = {}) {
  const entry = ENTRIES[name];
  if (!entry) {
    throw new Error(`unknown entry ${name}; known: ${Object.keys(ENTRIES).join(', ')}`);
  }
  if (name === 'satellite') {
    return bundleSatellite(satelliteBundlePath(outdir));
  }
  return bundleScript(path.join(root, entry), path.join(outdir, 'main.cjs'));
}

/** Bundles any TypeScript entry (an app, a tool, a bench) the same way: swc first, then esbuild. */
export async function bundleScript(entryPath, outfile) {
  const result = await build({
    entryPoints: [entryPath],
    outfile,
    // Written below, whole: test suites and `./bin/marvain` build the same bundle concurrently,
    // and a process must never load a file another build is half-way through writing.
    write: false,
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
  await mkdir(path.dirname(outfile), { recursive: true });
  for (const file of result.outputFiles) {
    const partial = `${file.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(partial, file.contents);
    await rename(partial, file.path);
  }
  return outfile;
}

/**
 * The satellite daemon: one CommonJS file with its dependencies (ws, commander, the contracts)
 * inside, a shebang, no source map, for Node 20 on any machine. No decorators, so no swc.
 */
export async function bundleSatellite(outfile = satelliteBundlePath()) {
  const result = await build({
    entryPoints: [path.join(root, ENTRIES.satellite)],
    outfile,
    write: false,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    alias,
    // ws loads these native speed-ups inside try/catch and works without them.
    external: ['bufferutil', 'utf-8-validate'],
    banner: { js: '#!/usr/bin/env node' },
    legalComments: 'none',
    logLevel: 'warning',
  });
  await mkdir(path.dirname(outfile), { recursive: true });
  for (const file of result.outputFiles) {
    const partial = `${file.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(partial, file.contents, { mode: 0o755 });
    await rename(partial, file.path);
  }
  return outfile;
}

// Optional modules that libraries load inside try/catch (Nest's optional packages, pg's native
// binding, ws's native helpers) and that the hub does not install: left as runtime require()s,
// which fail and fall back exactly as they do under node_modules.
const LAMBDA_OPTIONAL_EXTERNALS = [
  '@nestjs/microservices',
  '@nestjs/microservices/*',
  '@nestjs/websockets',
  '@nestjs/websockets/*',
  '@nestjs/platform-express',
  '@fastify/view',
  'class-transformer/storage',
  'pg-native',
  'bufferutil',
  'utf-8-validate',
];

/**
 * The embedded database has no place in Lambda (Aurora through the Data API, or PostgreSQL).
 * libs/db imports PGlite only when it opens a PGlite target; in these bundles that import
 * finds this module instead, so opening one fails with a clear message and the bundle does
 * not carry PGlite's WebAssembly.
 */
const withoutPglite = {
  name: 'without-pglite',
  setup(b) {
    b.onResolve({ filter: /^@electric-sql\/pglite(\/.*)?$/ }, (args) => ({ path: args.path, namespace: 'excluded' }));
    b.onLoad({ filter: /.*/, namespace: 'excluded' }, (args) => ({
      // CommonJS, so the named imports of it bind (to nothing) without a warning; it throws first.
      contents: `throw new Error(${JSON.stringify(`${args.path} is not part of the Lambda bundles; use DATABASE_URL or the RDS Data API`)});\nmodule.exports = {};`,
      loader: 'js',
    }));
  },
};

// Swagger UI's static files: Nest serves them from swagger-ui-dist's folder, which a bundle has
// no node_modules for. The http bundle carries the five files the /docs page loads, next to it.
const SWAGGER_UI_ASSETS = [
  'swagger-ui.css',
  'swagger-ui-bundle.js',
  'swagger-ui-standalone-preset.js',
  'favicon-16x16.png',
  'favicon-32x32.png',
];
const swaggerUiBesideBundle = {
  name: 'swagger-ui-beside-bundle',
  setup(b) {
    b.onResolve({ filter: /^swagger-ui-dist\/absolute-path(\.js)?$/ }, (args) => ({
      path: args.path,
      namespace: 'swagger-ui-path',
    }));
    b.onLoad({ filter: /.*/, namespace: 'swagger-ui-path' }, () => ({
      contents: "module.exports = () => require('node:path').join(__dirname, 'swagger-ui');",
      loader: 'js',
    }));
  },
};

/**
 * Builds Lambda entries (all four by default) to dist/lambda/<name>/index.js, in one esbuild run
 * so they share the parsing: CommonJS exporting `handler`, every dependency bundled (the @aws-sdk
 * clients too, so the code runs against the SDK versions it was tested with, not whichever the
 * runtime ships), minified, with an external source map. Fails when a bundle is over 5 MiB,
 * naming its heaviest inputs. dist/lambda/metafile.json is esbuild's account of what went in
 * (https://esbuild.github.io/analyze/ reads it).
 */
export async function bundleLambdas(names = Object.keys(LAMBDA_ENTRIES)) {
  for (const name of names) {
    if (!LAMBDA_ENTRIES[name]) {
      throw new Error(`unknown Lambda entry ${name}; known: ${Object.keys(LAMBDA_ENTRIES).join(', ')}`);
    }
  }
  const outdir = path.join(root, 'dist', 'lambda');
  await Promise.all(names.map((name) => rm(path.join(outdir, name), { recursive: true, force: true })));
  const result = await build({
    entryPoints: Object.fromEntries(names.map((name) => [`${name}/index`, path.join(root, LAMBDA_ENTRIES[name])])),
    outdir,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // Prefer packages' ES module builds: the @aws-sdk clients shake down much further that way.
    mainFields: ['module', 'main'],
    external: LAMBDA_OPTIONAL_EXTERNALS,
    alias: {
      ...alias,
      // @nestjs/mapped-types requires class-transformer's CommonJS storage by path; everything else
      // gets its ES build (above). One copy, so inherited @Type/@Transform metadata is not lost.
      'class-transformer/cjs/storage': 'class-transformer/esm5/storage',
    },
    minify: true,
    // Nest reads class names (module tokens, logger contexts); keep them through minification.
    keepNames: true,
    sourcemap: 'external',
    sourcesContent: false,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    plugins: [withoutPglite, swaggerUiBesideBundle, swcTypescript],
  });

  if (names.includes('http')) {
    const source = path.dirname(
      require.resolve('swagger-ui-dist/package.json', { paths: [path.dirname(require.resolve('@nestjs/swagger'))] }),
    );
    await mkdir(path.join(outdir, 'http', 'swagger-ui'), { recursive: true });
    await Promise.all(
      SWAGGER_UI_ASSETS.map((file) => copyFile(path.join(source, file), path.join(outdir, 'http', 'swagger-ui', file))),
    );
  }

  if (names.includes('http')) {
    // GET /v1/satellite/marvain-satellite.cjs serves the daemon from beside the http function's code.
    await bundleSatellite(path.join(outdir, 'http', 'satellite', 'marvain-satellite.cjs'));
  }

  await writeFile(path.join(outdir, 'metafile.json'), JSON.stringify(result.metafile));
  const built = [];
  const tooBig = [];
  for (const name of names) {
    const outfile = lambdaBundlePath(name);
    const output = result.metafile.outputs[path.relative(root, outfile)];
    const { size } = await stat(outfile);
    built.push({ outfile, size });
    if (size > LAMBDA_BUNDLE_LIMIT_BYTES) {
      const heaviest = Object.entries(output.inputs)
        .sort(([, a], [, b]) => b.bytesInOutput - a.bytesInOutput)
        .slice(0, 10)
        .map(([input, { bytesInOutput }]) => `    ${(bytesInOutput / 1024).toFixed(0).padStart(6)} KiB  ${input}`);
      tooBig.push(
        `${path.relative(root, outfile)} is ${(size / 1024 / 1024).toFixed(2)} MiB, over the 5 MiB limit; heaviest inputs:\n${heaviest.join('\n')}`,
      );
    }
  }
  if (tooBig.length > 0) {
    throw new Error(tooBig.join('\n'));
  }
  return built;
}

/** Names on the command line: entry names, `lambda` (all four) or `lambda/<name>`. */
export async function buildNamed(names) {
  const built = [];
  const lambdas = [];
  for (const name of names.length ? names : [...Object.keys(ENTRIES), 'lambda']) {
    if (name === 'lambda') {
      lambdas.push(...Object.keys(LAMBDA_ENTRIES));
    } else if (name.startsWith('lambda/')) {
      lambdas.push(name.slice('lambda/'.length));
    } else {
      built.push({ outfile: await bundle(name) });
    }
  }
  if (lambdas.length > 0) {
    built.push(...(await bundleLambdas([...new Set(lambdas)])));
  }
  return built;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const { outfile, size } of await buildNamed(process.argv.slice(2))) {
    console.log(
      `built ${path.relative(root, outfile)}${size === undefined ? '' : ` (${(size / 1024 / 1024).toFixed(2)} MiB)`}`,
    );
  }
}
