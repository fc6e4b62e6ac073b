import type { PlannerContext } from './planner-model';
import { redactPii } from './redaction';
import { RULES_PLANNER_MAX_CHARS, RulesPlannerModel } from './rules-planner.model';

/*
 * The rules planner's and the redaction's patterns were rewritten to run in linear time. These
 * check they still find exactly what the old regexes found, on the inputs the old ones were
 * slow on and on random text; timing is for `npm run bench:planner`, not for a test.
 */

/** The patterns as they were before the rewrite: the reference for what must be found. */
const OLD = (() => {
  const NAME_TOKEN = String.raw`\p{L}[\p{L}\p{M}\p{N}'-]{0,49}`;
  const NOT_A_RECIPIENT = String.raw`(?!(?:me|us|you|him|her|them|it|my|your|his|our|their|the|a|an|this|that|was|is|are|were|be)(?![\p{L}\p{N}'-]))`;
  return {
    message: new RegExp(
      String.raw`\b(?:(?:tell|message|text|remind)\s+${NOT_A_RECIPIENT}(${NAME_TOKEN})|let\s+${NOT_A_RECIPIENT}(${NAME_TOKEN})\s+know)(?:\s*,\s*|\s+)(?:that\s+)?(.+?)\s*[.!?]*$`,
      'iu',
    ),
    preference: /\bI\s+(?:really\s+)?(like|love|prefer|enjoy|hate|dislike)\s+(.+?)\s*[.!?]*$/i,
    name: new RegExp(String.raw`\bmy name is\s+(${NAME_TOKEN})`, 'iu'),
    remember: /\bremember\s+(?:that\s+)?(.+?)\s*[.!?]*$/i,
    email: /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g,
  };
})();

const clip = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/** What the planner planned before the rewrite (for texts under the cap, which it did not have). */
function oldPlan(raw: string): unknown {
  const text = raw.trim().replace(/\s+/g, ' ');
  const semantic: Array<{ content: string }> = [];
  const actions: unknown[] = [];
  const name = OLD.name.exec(text);
  if (name?.[1]) {
    semantic.push({ content: `The speaker's name is ${name[1]}.` });
  }
  const preference = OLD.preference.exec(text);
  if (preference?.[1] && preference[2]) {
    semantic.push({ content: clip(`The speaker ${preference[1].toLowerCase()}s ${preference[2]}.`, 2000) });
  }
  const remember = OLD.remember.exec(text);
  if (remember?.[1]) {
    semantic.push({
      content: clip(
        remember[1].replace(/^./, (c) => c.toUpperCase()),
        2000,
      ),
    });
  }
  const message = OLD.message.exec(text);
  const recipient = message?.[1] ?? message?.[2];
  if (recipient && message?.[3]) {
    const to = recipient.replace(/^./u, (c) => c.toUpperCase());
    actions.push({
      kind: 'send_message',
      payload: { to, text: clip(message[3], 2000) },
      reason: `The transcript asks to pass a message on to ${to}.`,
    });
  }
  return { episodic: [{ content: clip(text, 2000) }], semantic, actions };
}

const model = new RulesPlannerModel();
const plan = (text: string): Promise<unknown> =>
  model.plan({
    agentId: '00000000-0000-4000-8000-000000000001',
    spaceId: '00000000-0000-4000-8000-000000000002',
    event: {
      event_id: '00000000-0000-4000-8000-000000000003',
      type: 'transcript_chunk',
      text,
      created_at: '2026-11-01T10:00:00.000Z',
    },
    recentEvents: [],
    memories: [],
  } satisfies PlannerContext);

/** A small deterministic generator, so a failure names a reproducible text. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}
const pick = <T>(next: () => number, items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;

/** Long runs of what the old patterns backtracked over, after each of their heads. Kept short enough for the old regexes. */
const RUN = 3000;
const ADVERSARIAL: string[] = [
  '.'.repeat(RUN),
  `remember ${'.'.repeat(RUN)}x`,
  `remember that ${'.'.repeat(RUN)}`,
  `I like ${'!'.repeat(RUN)}x`,
  `I really love ${'!?.'.repeat(RUN / 3)} x`,
  `tell Sam ${'?'.repeat(RUN)}x`,
  `let Jo know that ${'. '.repeat(RUN / 2)}x.`,
  `tell Sam, ${'. . . '.repeat(RUN / 6)}`,
  `remember ${'a'.repeat(RUN)}`,
  `remember x@${'a.'.repeat(RUN / 2)}`,
  `remember ${'a@'.repeat(RUN / 2)}`,
  `remember ${'1234567890'.repeat(RUN / 10)}`,
  `my name is ${'Z'.repeat(RUN)} and tell ${'me '.repeat(RUN / 3)}`,
  'tell Sam, '.repeat(RUN / 10),
  `I like \t\n cats \n\n ...  !!  `,
  'tell Sam,',
  'remember that',
  'remember that .',
  'I like !!!',
];

describe('the linear patterns find what the old ones found', () => {
  it.each(ADVERSARIAL.map((text) => [text.length > 40 ? `${text.slice(0, 40)}… (${text.length} chars)` : text, text]))(
    'plans %p as before',
    async (_label, text) => {
      expect(await plan(text)).toEqual(oldPlan(text));
    },
  );

  it('plans random sentences as before', async () => {
    const words = [
      'tell',
      'let',
      'know',
      'that',
      'remember',
      'I',
      'really',
      'like',
      'hate',
      'my',
      'name',
      'is',
      'Sam',
      'Zoë',
      "O'Brien",
      'me',
      'the',
      'cats',
      'dinner',
      ',',
      '.',
      '!',
      '?',
      '...',
      ' ',
      '\n',
      'a@b.co',
    ];
    const next = random(8);
    const failures: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const text = Array.from({ length: 1 + Math.floor(next() * 14) }, () => pick(next, words)).join(
        next() < 0.5 ? ' ' : '',
      );
      if (JSON.stringify(await plan(text)) !== JSON.stringify(oldPlan(text))) {
        failures.push(JSON.stringify(text));
      }
    }
    expect(failures).toEqual([]);
  });

  it('redacts email addresses exactly where the old pattern did, on adversarial and random text', () => {
    const next = random(42);
    const alphabet = ['a', 'Z', '.', '@', '-', '_', '%', '+', ' ', 'co', 'x.y', '@@', '..'];
    const texts = [
      ...ADVERSARIAL,
      `${'a'.repeat(RUN)}@example.com`,
      `x@${'a-'.repeat(RUN / 2)}.io`,
      'a@b.co_x@d.com',
      'a@b@c.com',
      ...Array.from({ length: 3000 }, () =>
        Array.from({ length: 1 + Math.floor(next() * 24) }, () => pick(next, alphabet)).join(''),
      ),
    ];
    // Without digits there are no cards or phones: the email step alone decides the result.
    const failures = texts.filter(
      (text) => !/\d/.test(text) && redactPii(text).text !== text.replace(OLD.email, '[redacted:email]'),
    );
    expect(failures).toEqual([]);
  });

  it('plans only the first RULES_PLANNER_MAX_CHARS characters of a transcript', async () => {
    const filler = 'and then we talked about the weather '.repeat(Math.ceil(RULES_PLANNER_MAX_CHARS / 37));
    const late = (await plan(`${filler} tell Sam the package arrived`)) as {
      actions: unknown[];
      episodic: Array<{ content: string }>;
    };
    expect(late.actions).toEqual([]);
    expect(late.episodic[0]?.content.startsWith('and then we talked')).toBe(true);
    const early = (await plan(`tell Sam the package arrived. ${filler}`)) as {
      actions: Array<{ payload: { to: string } }>;
    };
    expect(early.actions.map((a) => a.payload.to)).toEqual(['Sam']);
  });

  it('never cuts a surrogate pair in half at the cap', async () => {
    const text = `remember ${'x'.repeat(RULES_PLANNER_MAX_CHARS - 10)}👍`;
    const output = (await plan(text)) as { semantic: Array<{ content: string }> };
    const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
    expect(output.semantic.map((m) => loneSurrogate.test(m.content))).toEqual([false]);
  });
});
