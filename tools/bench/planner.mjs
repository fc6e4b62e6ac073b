#!/usr/bin/env node
// `npm run bench:planner`: CPU time of the built-in rules planner on one event, in process: an
// ordinary 20 KB transcript against adversarial ones of the same size (long runs of the
// punctuation its patterns strip, long words, many email- and phone-like tokens), each planned
// and then redacted as the planner service does (redactPii on every output text, each at most
// 2000 characters: planner output is validated against PLANNER_LIMITS first). Prints the
// median time per case and the ratio of the worst case to the ordinary one; a linear planner
// keeps that ratio small (the aim is at most 2x), a backtracking pattern makes it grow with the
// length of the run.
//
// Settings (environment):
//   BENCH_RUNS=15       timed runs per case (after BENCH_WARMUP=3 untimed ones); the median is reported
//   BENCH_SIZE=20000    characters per transcript
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const SIZE = Number(process.env.BENCH_SIZE ?? 20_000);

/** `unit` repeated to `SIZE` characters (after `prefix`), then `suffix`. */
const fill = (prefix, unit, suffix = '') => {
  const body = unit.repeat(Math.ceil((SIZE - prefix.length - suffix.length) / unit.length));
  return `${prefix}${body}`.slice(0, SIZE - suffix.length) + suffix;
};

/** Everyday talk: no request, name or preference in it, so every pattern scans the whole text. */
const ORDINARY_SENTENCES = [
  'We talked about the garden this morning and the tomatoes are almost ready.',
  'The new coffee place on the corner opens at 7:30, which is early for a Sunday.',
  'Apparently the dentist moved the appointment to Thursday afternoon.',
  'Alex lives near the station, so the walk takes about ten minutes.',
  'The package arrived, and the blue one fits better than the green one.',
  'If the train is late again we will take the bus from 555 0134 Market Street.',
  'The meeting ran long; we will pick it up again next week!',
  'Did anyone see where the keys went?',
];
/** Said at the very end of an ordinary transcript: what the planner acts on. */
const ORDINARY_ENDING =
  ' My name is Alex. I really like the garden. Remember that the dentist is on Thursday. Tell Sam the package arrived, write to alex@example.com.';

/** The cases: an ordinary transcript first (the baseline), then inputs aimed at what regexes are bad at. */
const CASES = [
  {
    name: 'ordinary 20 KB transcript, requests at the end',
    text: fill('', `${ORDINARY_SENTENCES.join(' ')} `, ORDINARY_ENDING),
  },
  {
    name: 'ordinary 20 KB transcript, requests first',
    text: fill(ORDINARY_ENDING.trim(), ` ${ORDINARY_SENTENCES.join(' ')}`),
  },
  { name: "20 KB of '.'", text: fill('', '.') },
  { name: "'remember ' + 20 KB of '.' + 'x'", text: fill('remember ', '.', 'x') },
  { name: "'I like ' + 20 KB of '!' + 'x'", text: fill('I like ', '!', 'x') },
  { name: "'tell Sam ' + 20 KB of '?' + 'x'", text: fill('tell Sam ', '?', 'x') },
  { name: "'remember ' + '. . . ' runs + 'x'", text: fill('remember ', '. . . ', 'x') },
  { name: "'I love ' + '!?. ' runs + 'x'", text: fill('I love ', '!?.', ' x') },
  { name: 'one 20 KB word', text: fill('remember ', 'a') },
  { name: 'many email-like tokens', text: fill('remember ', 'a.b@c.d ') },
  { name: "'remember ' + 'a@' runs", text: fill('remember ', 'a@') },
  { name: "'remember ' + 'x@' + 20 KB of 'a.'", text: fill('remember x@', 'a.') },
  { name: 'many phone-like tokens', text: fill('remember ', '+1 (555) 123-4567 ') },
  { name: 'many card-like tokens', text: fill('remember ', '4111 1111 1111 1111 ') },
  { name: 'digit runs', text: fill('remember ', '1234567890') },
  { name: "'tell ' + many names", text: fill('', 'tell Sam, let Jo know ') },
  { name: '20 KB of whitespace runs', text: fill('remember ', ' \t\n  ', 'x') },
];

async function loadPlanner(dir) {
  const outfile = path.join(dir, 'planner.mjs');
  await build({
    stdin: {
      contents:
        "export { RulesPlannerModel } from './libs/planner/src/rules-planner.model.ts'; export { redactPii } from './libs/planner/src/redaction.ts';",
      resolveDir: root,
      loader: 'ts',
    },
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    logLevel: 'warning',
  });
  return import(pathToFileURL(outfile).href);
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function main() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'marvain-bench-planner-'));
  try {
    const { RulesPlannerModel, redactPii } = await loadPlanner(dir);
    const model = new RulesPlannerModel();
    /** What the planner service does with one transcript: plan, then redact every text it keeps. */
    const planOnce = async (text) => {
      const output = await model.plan({
        agentId: '00000000-0000-4000-8000-000000000001',
        spaceId: '00000000-0000-4000-8000-000000000002',
        event: {
          event_id: '00000000-0000-4000-8000-000000000003',
          type: 'transcript_chunk',
          text,
          created_at: new Date().toISOString(),
        },
        recentEvents: [],
        memories: [],
      });
      for (const memory of [...output.episodic, ...output.semantic]) {
        redactPii(memory.content);
      }
      for (const action of output.actions) {
        redactPii(action.payload.text);
        redactPii(action.reason);
      }
    };

    console.log(
      `bench:planner  rules planner + redaction, ${SIZE} characters per transcript, median of ${RUNS} runs (${WARMUP} warm-up)`,
    );
    const results = [];
    for (const { name, text } of CASES) {
      for (let i = 0; i < WARMUP; i++) {
        await planOnce(text);
      }
      const times = [];
      for (let i = 0; i < RUNS; i++) {
        const start = performance.now();
        await planOnce(text);
        times.push(performance.now() - start);
      }
      results.push({ name, ms: median(times) });
    }
    const ordinary = results[0].ms;
    const width = Math.max(...results.map((r) => r.name.length));
    for (const { name, ms } of results) {
      console.log(
        `  ${name.padEnd(width)}  ${ms.toFixed(2).padStart(9)} ms  ${(ms / ordinary).toFixed(2).padStart(7)}x`,
      );
    }
    const worst = results.slice(2).reduce((a, b) => (b.ms > a.ms ? b : a));
    console.log(`worst/ordinary: ${(worst.ms / ordinary).toFixed(2)}x (${worst.name}); aim: at most 2x`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
