import { Test } from '@nestjs/testing';
import { Injectable } from '@nestjs/common';
import { createRootLogger, PinoNestLogger } from './logger';
import { LoggerFactory, LoggingModule, type HubLogger } from './hub-logger';
import { withRequestId } from './request-context';

@Injectable()
class Greeter {
  private readonly logger: HubLogger;
  constructor(logs: LoggerFactory) {
    this.logger = logs.forContext('Greeter');
  }
  greet(name: string): void {
    this.logger.log({ msg: 'greeted', name });
  }
}

describe('LoggerFactory', () => {
  it("gives a service a logger whose lines a spec captures, with the context and the request's id", async () => {
    const lines: string[] = [];
    const sink = new PinoNestLogger(
      createRootLogger({ logLevel: 'info', logFormat: 'json' }, { write: (line: string) => lines.push(line) }),
    );
    const moduleRef = await Test.createTestingModule({ imports: [LoggingModule], providers: [Greeter] })
      .overrideProvider(LoggerFactory)
      .useValue(new LoggerFactory(sink))
      .compile();
    const greeter = moduleRef.get(Greeter);

    greeter.greet('Sam');
    withRequestId('req-1', () => greeter.greet('Ann'));

    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records).toEqual([
      expect.objectContaining({ context: 'Greeter', msg: 'greeted', name: 'Sam' }),
      expect.objectContaining({ context: 'Greeter', msg: 'greeted', name: 'Ann', request_id: 'req-1' }),
    ]);
    expect(records[0]).not.toHaveProperty('request_id');
  });
});
