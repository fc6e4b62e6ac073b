#!/usr/bin/env node
// `npm run graph:check`: proves the project graph holds the architecture, offline.
//  1. `nx graph --file` writes the graph Nx computes from every project's imports; no project but a
//     tool (tag type:tool) may depend on an app, and no projects depend on each other in a cycle.
//  2. Every import between projects goes through an entry point: a relative (or root-based) specifier
//     that lands in another project must name that project's entry (its tsconfig path alias target).
//     Nx attributes such imports to the right project, but lint cannot check a deep one, so they are
//     refused here, in TypeScript and plain JavaScript alike.
// Exits 1 with one line per finding.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOURCE = /\.(ts|mts|cts|js|mjs|cjs)$/;
const SKIP_DIRS = new Set(['node_modules', 'dist', 'coverage', 'tmp', '.nx']);

/**
 * Deep imports kept on purpose, each with its reason. The bare cold-start handler measures the driver
 * stack without Nest; the db library's entry would bundle its Nest module into it.
 */
const ALLOWED_DEEP_IMPORTS = new Map([
  ['tools/bench/coldstart-bare.mjs', 'the bare baseline bundles the driver stack without the db Nest module'],
]);

function projectGraph() {
  const dir = mkdtempSync(path.join(tmpdir(), 'marvain-graph-'));
  try {
    const file = path.join(dir, 'graph.json');
    execFileSync(process.execPath, [path.join(root, 'node_modules/nx/dist/bin/nx.js'), 'graph', `--file=${file}`], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' },
    });
    return JSON.parse(readFileSync(file, 'utf8')).graph;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function* sourceFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name) && !entry.name.startsWith('.')) {
        yield* sourceFiles(path.join(dir, entry.name));
      }
    } else if (SOURCE.test(entry.name) && !entry.name.endsWith('.d.ts')) {
      yield path.join(dir, entry.name);
    }
  }
}

/** Module specifiers of static imports/exports, dynamic import() and require() with a literal. */
function specifiers(source) {
  const found = [];
  const patterns = [
    /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\b(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of source.matchAll(pattern)) {
      found.push(match[1]);
    }
  }
  return found;
}

const graph = projectGraph();
const projects = Object.values(graph.nodes).map((node) => ({
  name: node.name,
  root: node.data.root,
  tags: node.data.tags ?? [],
  isApp: node.type === 'app',
}));
const byName = new Map(projects.map((p) => [p.name, p]));
const findings = [];

// 1. Nothing but tools depends on an app.
for (const [source, deps] of Object.entries(graph.dependencies)) {
  const from = byName.get(source);
  if (!from || from.tags.includes('type:tool')) {
    continue;
  }
  for (const { target } of deps) {
    if (byName.get(target)?.isApp) {
      findings.push(`${source} (${from.tags.join(', ')}) depends on the app ${target}`);
    }
  }
}

// No cycles between projects, but the one eslint.config.mjs declares (test-only both ways).
const DECLARED_CYCLES = [['db', 'data-api']];
const edges = new Map(
  Object.entries(graph.dependencies).map(([source, deps]) => [
    source,
    deps.map((d) => d.target).filter((target) => byName.has(target) && target !== source),
  ]),
);
const reaches = (from, to, seen = new Set()) =>
  from === to || (!seen.has(from) && (seen.add(from), (edges.get(from) ?? []).some((next) => reaches(next, to, seen))));
for (const [source, targets] of edges) {
  for (const target of targets) {
    const declared = DECLARED_CYCLES.some((pair) => pair.includes(source) && pair.includes(target));
    if (!declared && reaches(target, source)) {
      findings.push(`${source} -> ${target} closes a cycle (${target} reaches ${source} again)`);
    }
  }
}

// 2. Imports between projects go through entry points.
const { compilerOptions } = JSON.parse(readFileSync(path.join(root, 'tsconfig.base.json'), 'utf8'));
const entries = new Set(
  Object.values(compilerOptions.paths).map(([target]) => target.replace(/\.(ts|js|mjs|cjs)$/, '')),
);
const ownerOf = (file) =>
  projects
    .filter((p) => file === p.root || file.startsWith(`${p.root}/`))
    .sort((a, b) => b.root.length - a.root.length)[0];

for (const dir of ['apps', 'libs', 'tools']) {
  for (const absolute of sourceFiles(path.join(root, dir))) {
    const file = path.relative(root, absolute);
    const owner = ownerOf(file);
    for (const specifier of specifiers(readFileSync(absolute, 'utf8'))) {
      let target;
      if (specifier.startsWith('.')) {
        target = path.relative(root, path.resolve(path.dirname(absolute), specifier));
      } else if (/^(apps|libs|tools)\//.test(specifier)) {
        target = specifier;
      } else {
        continue;
      }
      const targetOwner = ownerOf(target);
      if (!targetOwner || targetOwner === owner) {
        continue;
      }
      const entry = target.replace(/\.(ts|js|mjs|cjs)$/, '').replace(/\/index$/, '/index');
      if (entries.has(entry) || entries.has(`${entry}/index`)) {
        continue;
      }
      if (ALLOWED_DEEP_IMPORTS.has(file)) {
        continue;
      }
      findings.push(
        `${file} imports '${specifier}', inside ${targetOwner.name} (${targetOwner.root}): use its entry point`,
      );
    }
  }
}

if (findings.length > 0) {
  console.error(`graph:check: ${findings.length} problem(s)\n  ${findings.join('\n  ')}`);
  process.exit(1);
}
console.log(
  `graph:check: ${projects.length} projects; no app dependency outside tools, no undeclared cycle, every cross-project import through an entry point`,
);
