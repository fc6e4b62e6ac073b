import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { AgentIdParams, DisplayText } from './params';

class Named {
  @DisplayText(10) name!: string;
}

function check<T extends object>(type: new () => T, plain: object): { value: T; problems: string[] } {
  const value = plainToInstance(type, plain);
  const problems = validateSync(value).flatMap((error) => Object.values(error.constraints ?? {}));
  return { value, problems };
}

describe('DisplayText', () => {
  it('trims a name before it is checked and stored', () => {
    const { value, problems } = check(Named, { name: '  kitchen ' });
    expect(problems).toEqual([]);
    expect(value.name).toBe('kitchen');
  });

  it.each([
    ['blank', '   '],
    ['empty', ''],
    ['too long once trimmed', ' 12345678901 '],
    ['a newline', 'a\nb'],
    ['an escape sequence', '\u001b[31mred'],
    ['not a string', 42],
  ])('refuses a name that is %s', (_case, name) => {
    expect(check(Named, { name }).problems).not.toEqual([]);
  });
});

describe('AgentIdParams', () => {
  it('lower-cases the id, the form every stored id has', () => {
    const { value, problems } = check(AgentIdParams, { agent_id: '0B7A1C3E-7D52-4D0E-9A55-3C1F5F2A9B10' });
    expect(problems).toEqual([]);
    expect(value.agent_id).toBe('0b7a1c3e-7d52-4d0e-9a55-3c1f5f2a9b10');
  });

  it('refuses what is not a uuid', () => {
    expect(check(AgentIdParams, { agent_id: 'forge' }).problems).not.toEqual([]);
  });
});
