import { createRootLogger, PinoNestLogger, type LogDestination } from './logger';
import type { LogFormat, LogLevel } from '../config/hub-config';

function capture(level: LogLevel, format: LogFormat, isTTY = false): { lines: string[]; nest: PinoNestLogger } {
  const lines: string[] = [];
  const destination: LogDestination = { write: (line: string) => lines.push(line), isTTY };
  return { lines, nest: new PinoNestLogger(createRootLogger({ logLevel: level, logFormat: format }, destination)) };
}

describe('the hub logger', () => {
  it("writes one JSON record a line, with the context and an object message's fields as its own fields", () => {
    const { lines, nest } = capture('info', 'json');
    nest.log({ msg: 'event planned', event_id: 'e1', memories: 2 }, 'Planner');
    nest.warn('disk nearly full', 'Audit');
    expect(lines).toHaveLength(2);
    expect(lines.every((line) => line.endsWith('\n') && !line.slice(0, -1).includes('\n'))).toBe(true);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({
      level: 30,
      msg: 'event planned',
      context: 'Planner',
      event_id: 'e1',
      memories: 2,
      service: 'marvain-hub',
      time: expect.any(String),
    });
    expect(JSON.parse(lines[1] ?? '')).toMatchObject({ level: 40, msg: 'disk nearly full', context: 'Audit' });
  });

  it('writes short human lines in the pretty format: time, level, context, message, fields', () => {
    const { lines, nest } = capture('info', 'pretty');
    nest.log({ msg: 'action approved', action_id: 'a1', by: 'user' }, 'Actions');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}Actions {2}action approved {2}action_id=a1 by=user\n$/);
  });

  it('chooses pretty lines for a terminal and JSON otherwise when the format is auto', () => {
    const terminal = capture('info', 'auto', true);
    terminal.nest.log('hello', 'Test');
    expect(terminal.lines[0]).toMatch(/INFO {2}Test {2}hello\n$/);
    const pipe = capture('info', 'auto', false);
    pipe.nest.log('hello', 'Test');
    expect(JSON.parse(pipe.lines[0] ?? '')).toMatchObject({ msg: 'hello', context: 'Test' });
  });

  it("demotes Nest's start-up chatter to debug", () => {
    const info = capture('info', 'json');
    for (const context of ['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication']) {
      info.nest.log('Mapped {/v1/events, POST} route', context);
    }
    info.nest.log('applied migrations 0001', 'Database');
    expect(info.lines.map((line) => (JSON.parse(line) as { context: string }).context)).toEqual(['Database']);

    const debug = capture('debug', 'json');
    debug.nest.log('AppModule dependencies initialized', 'InstanceLoader');
    expect(JSON.parse(debug.lines[0] ?? '')).toMatchObject({ level: 20, context: 'InstanceLoader' });
  });

  it('honours the level: debug hidden at info, everything hidden when silent', () => {
    const info = capture('info', 'json');
    info.nest.debug('detail', 'X');
    info.nest.verbose('more detail', 'X');
    info.nest.error('broken', 'X');
    expect(info.lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(['broken']);

    const silent = capture('silent', 'json');
    silent.nest.error('broken', 'X');
    silent.nest.fatal('very broken', 'X');
    expect(silent.lines).toEqual([]);
  });

  it("keeps an error's stack as its trace", () => {
    const { lines, nest } = capture('info', 'json');
    nest.error('request failed', 'Error: boom\n    at somewhere', 'Errors');
    nest.error(new Error('thrown'), 'Errors');
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({
      level: 50,
      msg: 'request failed',
      context: 'Errors',
      trace: 'Error: boom\n    at somewhere',
    });
    expect(JSON.parse(lines[1] ?? '')).toMatchObject({
      level: 50,
      msg: 'thrown',
      context: 'Errors',
      trace: expect.stringContaining('Error: thrown'),
    });
  });
});
