import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CONTROL_DEADLINE_HEADER } from '@marvain/platform';
import { openHubTestServer, type HubTestServer } from '../testing/hub-test-server';

jest.setTimeout(120_000);

const SECRET = 'local-control-secret-for-this-spec';

describe('the local control endpoint and the CLI deadline', () => {
  let hub: HubTestServer;
  const control = (deadline: string | null, email: string) =>
    hub.call(
      'POST',
      '/v1/local/users',
      null,
      { email },
      { 'x-marvain-control': SECRET, ...(deadline !== null ? { [CONTROL_DEADLINE_HEADER]: deadline } : {}) },
    );

  beforeAll(async () => {
    hub = await openHubTestServer({ localControlSecret: SECRET });
  });
  afterAll(() => hub.close());

  it('refuses a request that arrives after its deadline with deadline_exceeded, and does nothing', async () => {
    const late = await control(String(Date.now() - 1000), 'late@example.com');
    expect(late).toMatchObject({
      status: 408,
      json: { error: { code: 'deadline_exceeded', message: expect.stringContaining('nothing was done') } },
    });
    // Nothing was created: the same user can be created now, once.
    expect((await control(String(Date.now() + 60_000), 'late@example.com')).status).toBe(201);
    expect((await control(String(Date.now() + 60_000), 'late@example.com')).status).toBe(409);
  });

  it('acts on a request without a deadline, and refuses a malformed one with 400', async () => {
    expect((await control(null, 'no-deadline@example.com')).status).toBe(201);
    expect(await control('tomorrow', 'bad-deadline@example.com')).toMatchObject({
      status: 400,
      json: { error: { code: 'validation_failed' } },
    });
  });

  it('reports the version of the root package.json', async () => {
    const { version } = JSON.parse(readFileSync(path.join(__dirname, '../../../../package.json'), 'utf8')) as {
      version: string;
    };
    expect((await hub.call('GET', '/v1/health', null)).json.version).toBe(version);
  });
});
