import { mkdtempSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { rm } from 'node:fs/promises';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createTestDatabase, testDatabaseKind, type TestDatabase } from '@marvain/db/testing';
import { BootstrapService, PrincipalResolver } from '@marvain/identity';
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
    expect(saved).toMatchObject({
      hub_url: 'http://127.0.0.1:8080',
      agent_id: expect.any(String),
      space_id: expect.any(String),
    });
    expect(statSync(config.configFile).mode & 0o777).toBe(0o600);
    expect(saved?.agents?.[saved.agent_id as string]).toEqual({
      name: 'Marvain',
      space_id: saved?.space_id,
      device_id: saved?.device_id,
      device_token: saved?.device_token,
      user_id: saved?.user_id,
    });

    const resolver = app.get(PrincipalResolver);
    const device = await resolver.resolve(saved?.device_token as string);
    const user = await resolver.resolve(saved?.user_token as string);
    expect(device.agents.map((a) => a.agent_id)).toEqual([saved?.agent_id]);
    expect(user.agents.map((a) => a.agent_id)).toEqual([saved?.agent_id]);

    const second = await runFirstStart(app, config, 'http://127.0.0.1:9090');
    expect(second).toEqual({ kind: 'reused', agentId: saved?.agent_id });
    expect((await readOperatorConfig(config.configFile))?.hub_url).toBe('http://127.0.0.1:9090');
  });

  it('leaves a database that already has agents alone when the config file names none of them, and says what to run', async () => {
    await rm(config.configFile);
    const outcome = await runFirstStart(app, config, 'http://127.0.0.1:8080');
    expect(outcome).toEqual({ kind: 'foreign-database', advice: expect.stringContaining(config.configFile) });
    expect(outcome.kind === 'foreign-database' && outcome.advice).toContain(
      './bin/marvain bootstrap --agent-name Marvain --space-name home',
    );
    expect(await readOperatorConfig(config.configFile)).toBeNull();
  });
});

describe(`first start that cannot save its credentials (${testDatabaseKind()})`, () => {
  it('creates nothing: the config file is written before the bootstrap commits', async () => {
    const db = await createTestDatabase();
    const dir = mkdtempSync(path.join(tmpdir(), 'marvain-first-run-'));
    // The config file's folder is a dangling link: the file reads as absent, but saving it fails,
    // as it would if the process died there.
    symlinkSync(path.join(dir, 'missing', 'folder'), path.join(dir, 'config'));
    const config = testHubConfig({
      firstRunBootstrap: true,
      configFile: path.join(dir, 'config', 'marvain-config.yaml'),
    });
    const app = await createHubApp(config, { databaseHandle: db });
    try {
      await expect(runFirstStart(app, config, 'http://127.0.0.1:8080')).rejects.toThrow('ENOENT');
      expect(await app.get(BootstrapService).hasAnyAgent()).toBe(false);
    } finally {
      await app.close();
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
