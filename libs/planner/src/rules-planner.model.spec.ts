import { validatePlannerOutput, type PlannerOutput } from './planner-output';
import type { PlannerContext } from './planner-model';
import { RulesPlannerModel } from './rules-planner.model';

const model = new RulesPlannerModel();

function context(text: string): PlannerContext {
  return {
    agentId: '00000000-0000-4000-8000-000000000001',
    spaceId: '00000000-0000-4000-8000-000000000002',
    event: {
      event_id: '00000000-0000-4000-8000-000000000003',
      type: 'transcript',
      text,
      created_at: '2026-11-01T10:00:00.000Z',
    },
    recentEvents: [],
    memories: [],
  };
}

/** Plans the text and checks the result is valid planner output before handing it back. */
async function plan(text: string): Promise<PlannerOutput> {
  const raw = await model.plan(context(text));
  const validation = validatePlannerOutput(raw);
  if (!validation.ok) {
    throw new Error(
      `rules planner produced invalid output for ${JSON.stringify(text)}: ${validation.errors.join('; ')}`,
    );
  }
  return validation.output;
}

describe('RulesPlannerModel', () => {
  it('turns "tell Sam the package arrived" into exactly one send_message to Sam with the message text', async () => {
    const output = await plan('tell Sam the package arrived');
    expect(output.actions).toHaveLength(1);
    expect(output.actions[0]).toMatchObject({
      kind: 'send_message',
      payload: { to: 'Sam', text: 'the package arrived' },
    });
    expect(output.actions[0]?.reason).toMatch(/Sam/);
  });

  it('drops the trailing punctuation of the request from the message', async () => {
    const output = await plan('Tell Sam the package arrived!');
    expect(output.actions.map((a) => a.payload)).toEqual([{ to: 'Sam', text: 'the package arrived' }]);
  });

  it('understands "let Sam know that …" as a message to Sam without the "know that"', async () => {
    const output = await plan('let Sam know that dinner is ready');
    expect(output.actions.map((a) => a.payload)).toEqual([{ to: 'Sam', text: 'dinner is ready' }]);
  });

  it('capitalises the recipient', async () => {
    const output = await plan('message alex the meeting moved to 3pm');
    expect(output.actions.map((a) => a.payload)).toEqual([{ to: 'Alex', text: 'the meeting moved to 3pm' }]);
  });

  it.each(['tell me a joke', 'let me know when it is done', 'tell us a story', 'tell you what, I will cook'])(
    'proposes no message for "%s" (the speaker or listener is not someone to message)',
    async (text) => {
      const output = await plan(text);
      expect(output.actions).toEqual([]);
    },
  );

  it.each([
    ['tell Zoë the café opened', 'Zoë', 'the café opened'],
    ['message José that I am late', 'José', 'I am late'],
    ["tell O'Brien the van is here", "O'Brien", 'the van is here'],
    ['please text Sam, I am running late', 'Sam', 'I am running late'],
    ['remind Ana to water the plants', 'Ana', 'to water the plants'],
  ])('in "%s" the recipient is %p and the message %p', async (text, to, message) => {
    const output = await plan(text);
    expect(output.actions.map((a) => a.payload)).toEqual([{ to, text: message }]);
  });

  it.each([
    'tell Sam',
    'let Sam know',
    'I let the dog out',
    'let it be',
    'the text was long',
    'tell him I said hi',
    'remind them to buy milk',
  ])('proposes no message for "%s" (no recipient name or no message to pass on)', async (text) => {
    const output = await plan(text);
    expect(output.actions).toEqual([]);
  });

  it("keeps a non-ASCII name whole in the speaker's name memory", async () => {
    expect((await plan('my name is Zoë')).semantic).toEqual([{ content: "The speaker's name is Zoë." }]);
  });

  it('keeps every transcript as one episodic memory, whitespace tidied', async () => {
    const output = await plan('  the   weather is\nnice today ');
    expect(output.episodic).toEqual([{ content: 'the weather is nice today' }]);
    expect(output.semantic).toEqual([]);
    expect(output.actions).toEqual([]);
  });

  it('remembers a stated preference as a semantic memory', async () => {
    const output = await plan('I really like green tea.');
    expect(output.semantic).toEqual([{ content: 'The speaker likes green tea.' }]);
  });

  it.each([
    ['I prefer window seats', 'The speaker prefers window seats.'],
    ['I hate cilantro!', 'The speaker hates cilantro.'],
    ['i love jazz', 'The speaker loves jazz.'],
  ])('records the preference in "%s"', async (text, expected) => {
    expect((await plan(text)).semantic).toEqual([{ content: expected }]);
  });

  it("remembers the speaker's name as a semantic memory", async () => {
    const output = await plan('Hello, my name is Ada and I live here');
    expect(output.semantic).toEqual([{ content: "The speaker's name is Ada." }]);
  });

  it('remembers what the speaker asks it to remember, capitalised', async () => {
    const output = await plan('remember that the spare key is under the mat.');
    expect(output.semantic).toEqual([{ content: 'The spare key is under the mat' }]);
  });

  it('can produce several semantic memories and an action from one transcript', async () => {
    const output = await plan('my name is Ada, I love jazz, tell Sam the package arrived');
    expect(output.semantic.map((m) => m.content)).toContain("The speaker's name is Ada.");
    expect(output.semantic.some((m) => m.content.startsWith('The speaker loves jazz'))).toBe(true);
    expect(output.actions.map((a) => a.payload.to)).toEqual(['Sam']);
  });

  it('is deterministic: the same transcript always plans the same output', async () => {
    const text = 'my name is Ada, remember that I park on level 2, tell Sam the package arrived';
    expect(await plan(text)).toEqual(await plan(text));
  });

  it('stays within the output bounds for a very long transcript', async () => {
    const long = `tell Sam ${'the package arrived and it is heavy '.repeat(200)}`;
    const output = await plan(long);
    expect(output.episodic[0]?.content.length).toBeLessThanOrEqual(2000);
    expect(output.actions[0]?.payload.text.length).toBeLessThanOrEqual(2000);
    expect(output.actions[0]?.payload.to).toBe('Sam');
  });

  it.each([
    'hi',
    '...',
    'remember',
    'tell Sam.',
    'I like',
    `my name is ${'A'.repeat(80)}`,
    `tell ${'B'.repeat(120)} hello`,
    `I love ${'x'.repeat(5000)}`,
    `remember ${'y'.repeat(5000)}`,
    'Ünïcödé 🙂 tell Zoë the café opened 🙂',
  ])('always returns output that passes strict validation (%#)', async (text) => {
    await expect(plan(text)).resolves.toBeDefined();
  });
});
