import { statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createTestDatabase, testDatabaseKind, type TestDatabase } from '@marvain/db/testing';
import { PrincipalResolver } from '@marvain/identity';
import { readOperatorConfig, type HubConfig } from '@marvain/platform';
import { testHubConfig } from '@marvain/platform/testing';
import { createHubApp } from '../setup';
import { runFirstStart } from './first-run';

describe(`first start (${testDatabaseKind()})`, () => {
  let db: TestDatabase;
  let config: HubConfig;
  let app: NestFastifyApplication;

  beforeAll(async () => {
    db = await createTestDatabase();
    config = testHubConfig({ firstRunBootstrap: true });
    app = await createHubApp(config, { databaseHandle: db });
  });
  afterAll(async () => {
    await app.close();
    await db.close();
  });

  it('bootstraps an empty database once, saves working credentials with mode 0600, and reuses them later', async () => {
    const first = await runFirstStart(app, config, 'http://127.0.0.1:8080');
    expect(first.kind).toBe('bootstrapped');
    const saved = await readOperatorConfig(config.configFile);
    expect(saved).toMatchObject({ hub_url: 'http://127.0.0.1:8080', agent_id: expect.any(String), space_id: expect.any(String) });
    expect(statSync(config.configFile).mode & 0o777).toBe(0o600);

    const resolver = app.get(PrincipalResolver);
    const device = await resolver.resolve(saved?.device_token as string);
    const user = await resolver.resolve(saved?.user_token as string);
    expect(device.agents.map((a) => a.agent_id)).toEqual([saved?.agent_id]);
    expect(user.agents.map((a) => a.agent_id)).toEqual([saved?.agent_id]);

    const second = await runFirstStart(app, config, 'http://127.0.0.1:9090');
    expect(second).toEqual({ kind: 'reused', agentId: saved?.agent_id });
    expect((await readOperatorConfig(config.configFile))?.hub_url).toBe('http://127.0.0.1:9090');
  });

  it('leaves a database that already has agents alone when the config file names none of them', async () => {
    await rm(config.configFile);
    expect(await runFirstStart(app, config, 'http://127.0.0.1:8080')).toEqual({ kind: 'foreign-database' });
    expect(await readOperatorConfig(config.configFile)).toBeNull();
  });
});
