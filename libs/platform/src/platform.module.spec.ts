import { Global, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { KYSELY } from '@marvain/db';
import { testHubConfig } from './testing';
import { HubConfig } from './config/hub-config';
import { PlatformModule } from './platform.module';
import { CLOCK, IDS, SystemClock } from './ports';
import { MESSAGE_QUEUE } from './queue/message-queue';
import { TableQueue } from './queue/table-queue';
import { AUDIT_SINK, type AuditSink } from './audit-sink/audit-sink';
import { FileAuditSink } from './audit-sink/file-audit-sink';

/** Stands in for DbModule: the local queue needs a Kysely instance to be constructed, not used. */
@Global()
@Module({ providers: [{ provide: KYSELY, useValue: {} }], exports: [KYSELY] })
class FakeDbModule {}

async function compile(config: HubConfig): Promise<TestingModule> {
  return Test.createTestingModule({ imports: [FakeDbModule, PlatformModule.forRoot(config)] }).compile();
}

describe('PlatformModule.forRoot', () => {
  const modules: TestingModule[] = [];
  afterEach(async () => {
    for (const module of modules.splice(0)) {
      await module.close();
    }
  });

  it('in the local runtime provides the queue table and write-once files', async () => {
    const config = testHubConfig();
    const module = await compile(config);
    modules.push(module);
    expect(module.get(HubConfig)).toBe(config);
    expect(module.get(CLOCK)).toBeInstanceOf(SystemClock);
    expect(module.get<{ derived(n: string): string }>(IDS).derived('x')).toMatch(/^[0-9a-f-]{36}$/);
    expect(module.get(MESSAGE_QUEUE)).toBeInstanceOf(TableQueue);
    const sink = module.get<AuditSink>(AUDIT_SINK);
    expect(sink).toBeInstanceOf(FileAuditSink);
    expect(sink.location).toBe(config.auditDir);
  });

  it('gives the AWS runtime no local adapters: those come from @marvain/platform-aws', () => {
    expect(() => PlatformModule.forRoot(testHubConfig({ runtime: 'aws' }))).toThrow(/AwsAdaptersModule/);
  });
});
