#!/usr/bin/env node
// Summarises a V8 .cpuprofile (node --cpu-prof) for the ingest benchmark: self time by function,
// by package / source file, and inclusive time of chosen frames.
// Usage: node tools/bench/summarize-profile.mjs <file.cpuprofile> [--top 30] [--match substring ...]
//          [--from-first writePayload] [--requests N]
//   --from-first F  ignore samples before the first one with a frame named F (start-up); writePayload
//                   (fastify's reply) is a good marker for "serving requests" in both servers
//   --requests N    also print microseconds per request (N = requests served in the window, warm-ups included)
//   e.g. BENCH_DATABASES=pglite BENCH_ROUNDS=1 BENCH_HUB_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench:ingest
//        node tools/bench/summarize-profile.mjs /tmp/prof/*.cpuprofile --match ValidationPipe --match resolveDevice
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const valueOf = (flag) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
const flagValues = new Set(
  ['--top', '--match', '--from-first', '--requests'].flatMap((f) => args.flatMap((a, i) => (a === f ? [i + 1] : []))),
);
const file = args.find((a, i) => !a.startsWith('--') && !flagValues.has(i));
if (!file) {
  console.error('usage: summarize-profile.mjs <file.cpuprofile> [--top N] [--match substring ...]');
  process.exit(2);
}
const top = Number(valueOf('--top')) || 30;
const fromFirst = valueOf('--from-first');
const requests = Number(valueOf('--requests')) || 0;
const matches = args.flatMap((a, i) => (a === '--match' ? [args[i + 1]] : []));

const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) {
  for (const c of n.children ?? []) {
    parent.set(c, n.id);
  }
}

// Self time per node from the samples and their time deltas (microseconds).
const hasFrame = (id, name) => {
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    if (nodes.get(cur).callFrame.functionName === name) {
      return true;
    }
  }
  return false;
};
const firstIndex = fromFirst ? profile.samples.findIndex((id) => hasFrame(id, fromFirst)) : 0;
if (firstIndex < 0) {
  console.error(`no sample has a frame named ${fromFirst}`);
  process.exit(1);
}
const self = new Map();
let total = 0;
profile.samples.forEach((id, i) => {
  if (i < firstIndex) {
    return;
  }
  const dt = profile.timeDeltas[i] ?? 0;
  self.set(id, (self.get(id) ?? 0) + dt);
  total += dt;
});

const where = (cf) => {
  const url = cf.url || '';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) {
    return nm[1];
  }
  if (url.includes('/dist/hub/')) {
    return 'hub bundle';
  }
  if (url.startsWith('node:')) {
    return 'node:' + url.slice(5).split('/')[0];
  }
  return url ? url.split('/').slice(-2).join('/') : `(${cf.functionName || 'native'})`;
};
const label = (cf) => `${cf.functionName || '(anonymous)'}  ${where(cf)}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;

const byFunction = new Map();
const byWhere = new Map();
for (const [id, us] of self) {
  const cf = nodes.get(id).callFrame;
  byFunction.set(label(cf), (byFunction.get(label(cf)) ?? 0) + us);
  byWhere.set(where(cf), (byWhere.get(where(cf)) ?? 0) + us);
}
const idle = [...self]
  .filter(([id]) => nodes.get(id).callFrame.functionName === '(idle)')
  .reduce((n, [, us]) => n + us, 0);

const pct = (us) =>
  `${((us / total) * 100).toFixed(1).padStart(5)}%` +
  (requests ? ` ${(us / requests).toFixed(1).padStart(7)} us/req` : '');
const print = (title, map) => {
  console.log(`\n${title}`);
  for (const [k, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${pct(us)}  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
  }
};
console.log(
  `${file}: ${(total / 1e6).toFixed(2)} s sampled${fromFirst ? ` from the first ${fromFirst}` : ''}, idle ${pct(idle)}, busy ${pct(total - idle)}`,
);
print('self time by package / file', byWhere);
print('self time by function', byFunction);

// Inclusive time: samples whose stack contains a frame whose function name includes the match.
for (const m of matches) {
  let us = 0;
  for (const [id, t] of self) {
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      if ((nodes.get(cur).callFrame.functionName || '').includes(m)) {
        us += t;
        break;
      }
    }
  }
  console.log(`inclusive ${pct(us)}  ${(us / 1000).toFixed(0).padStart(6)} ms  frames matching "${m}"`);
}
