import { PLANNER_LIMITS, validatePlannerOutput, type PlannerOutput } from './planner-output';

function valid(): PlannerOutput {
  return {
    episodic: [{ content: 'Heard: tell Sam the package arrived' }],
    semantic: [{ content: 'The speaker likes green tea.' }],
    actions: [
      { kind: 'send_message', payload: { to: 'Sam', text: 'the package arrived' }, reason: 'asked to pass it on' },
    ],
  };
}

/** A deep copy of the valid output, changed by `edit`. */
function variant(edit: (output: Record<string, any>) => void): unknown {
  const output = JSON.parse(JSON.stringify(valid())) as Record<string, any>;
  edit(output);
  return output;
}

function expectRejected(raw: unknown): string[] {
  const result = validatePlannerOutput(raw);
  expect(result.ok).toBe(false);
  if (result.ok) {
    return [];
  }
  expect(result.errors.length).toBeGreaterThan(0);
  return result.errors;
}

describe('validatePlannerOutput', () => {
  it('accepts a valid output and hands back the same content', () => {
    const result = validatePlannerOutput(valid());
    expect(result).toEqual({ ok: true, output: valid() });
  });

  it('accepts empty lists (a transcript that warrants nothing)', () => {
    expect(validatePlannerOutput({ episodic: [], semantic: [], actions: [] }).ok).toBe(true);
  });

  it('accepts output exactly at every bound', () => {
    const atBounds: PlannerOutput = {
      episodic: Array.from({ length: PLANNER_LIMITS.episodic }, () => ({
        content: 'e'.repeat(PLANNER_LIMITS.memoryChars),
      })),
      semantic: Array.from({ length: PLANNER_LIMITS.semantic }, () => ({
        content: 's'.repeat(PLANNER_LIMITS.memoryChars),
      })),
      actions: Array.from({ length: PLANNER_LIMITS.actions }, () => ({
        kind: 'send_message' as const,
        payload: { to: 'T'.repeat(100), text: 't'.repeat(PLANNER_LIMITS.messageChars) },
        reason: 'r'.repeat(PLANNER_LIMITS.reasonChars),
      })),
    };
    expect(validatePlannerOutput(atBounds).ok).toBe(true);
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['a string', 'tell Sam the package arrived'],
    ['an array', [valid()]],
    ['a number', 42],
    ['undefined', undefined],
  ])('rejects %s instead of an object', (_what, raw) => {
    expectRejected(raw);
  });

  it.each<[string, (o: Record<string, any>) => void]>([
    ['an unknown top-level field', (o) => (o['thoughts'] = 'I should message Sam')],
    ['an unknown field on a memory', (o) => (o['episodic'][0]['importance'] = 5)],
    ['an unknown field on an action', (o) => (o['actions'][0]['auto_approve'] = true)],
    ['an unknown field in an action payload', (o) => (o['actions'][0]['payload']['cc'] = 'everyone@example.com')],
  ])('rejects %s', (_what, edit) => {
    expectRejected(variant(edit));
  });

  it('names the offending unknown field in its errors', () => {
    const errors = expectRejected(variant((o) => (o['actions'][0]['auto_approve'] = true)));
    expect(errors.join('\n')).toMatch(/\/actions\/0/);
    expect(errors.join('\n')).toMatch(/additional properties/);
  });

  it.each<[string, (o: Record<string, any>) => void]>([
    ['a missing list', (o) => delete o['semantic']],
    ['a missing memory content', (o) => delete o['episodic'][0]['content']],
    ['a missing action reason', (o) => delete o['actions'][0]['reason']],
    ['a missing message recipient', (o) => delete o['actions'][0]['payload']['to']],
  ])('rejects %s', (_what, edit) => {
    expectRejected(variant(edit));
  });

  it.each<[string, (o: Record<string, any>) => void]>([
    ['episodic as an object', (o) => (o['episodic'] = { content: 'x' })],
    ['a memory as a plain string', (o) => (o['semantic'] = ['likes tea'])],
    ['memory content as a number', (o) => (o['episodic'][0]['content'] = 12)],
    ['a recipient as an array', (o) => (o['actions'][0]['payload']['to'] = ['Sam'])],
    ['message text as null', (o) => (o['actions'][0]['payload']['text'] = null)],
    ['a payload as a string', (o) => (o['actions'][0]['payload'] = 'Sam: the package arrived')],
    ['an empty memory content', (o) => (o['episodic'][0]['content'] = '')],
    ['an empty recipient', (o) => (o['actions'][0]['payload']['to'] = '')],
  ])('rejects a wrong type or empty value: %s', (_what, edit) => {
    expectRejected(variant(edit));
  });

  it.each<[string, (o: Record<string, any>) => void]>([
    [
      'too many episodic memories',
      (o) => (o['episodic'] = Array.from({ length: PLANNER_LIMITS.episodic + 1 }, () => ({ content: 'x' }))),
    ],
    [
      'too many semantic memories',
      (o) => (o['semantic'] = Array.from({ length: PLANNER_LIMITS.semantic + 1 }, () => ({ content: 'x' }))),
    ],
    [
      'too many actions',
      (o) => (o['actions'] = Array.from({ length: PLANNER_LIMITS.actions + 1 }, () => valid().actions[0])),
    ],
  ])('rejects %s', (_what, edit) => {
    expectRejected(variant(edit));
  });

  it.each<[string, (o: Record<string, any>) => void]>([
    ['an over-long memory', (o) => (o['episodic'][0]['content'] = 'x'.repeat(PLANNER_LIMITS.memoryChars + 1))],
    ['an over-long message', (o) => (o['actions'][0]['payload']['text'] = 'x'.repeat(PLANNER_LIMITS.messageChars + 1))],
    ['an over-long reason', (o) => (o['actions'][0]['reason'] = 'x'.repeat(PLANNER_LIMITS.reasonChars + 1))],
    ['an over-long recipient', (o) => (o['actions'][0]['payload']['to'] = 'x'.repeat(101))],
  ])('rejects %s', (_what, edit) => {
    expectRejected(variant(edit));
  });

  it.each(['http_request', 'device_command', 'SEND_MESSAGE', 'delete_everything', ''])(
    'rejects the unknown action kind %p',
    (kind) => {
      expectRejected(variant((o) => (o['actions'][0]['kind'] = kind)));
    },
  );

  it('rejects the whole output when only one item of many is bad', () => {
    expectRejected(
      variant((o) => {
        o['episodic'].push({ content: 'fine' }, { content: 'also fine', extra: true });
      }),
    );
  });
});
