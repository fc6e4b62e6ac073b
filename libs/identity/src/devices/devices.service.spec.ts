import { ROLE_SCOPES, SCOPES } from '@marvain/contracts';
import { scopesBeyond, toDeviceView } from './devices.service';

describe('scopesBeyond', () => {
  it('is empty when every wanted scope is held exactly or through resource:*', () => {
    expect(scopesBeyond(['events:write', 'memories:*'], ['events:write', 'memories:read', 'memories:write'])).toEqual(
      [],
    );
    expect(scopesBeyond(ROLE_SCOPES.owner, [...SCOPES])).toEqual([]);
  });

  it('names the scopes that are not held', () => {
    expect(scopesBeyond(ROLE_SCOPES.admin, ['events:write', 'agents:manage'])).toEqual(['agents:manage']);
    expect(scopesBeyond(['events:write'], ['events:read'])).toEqual(['events:read']);
  });

  it('covers a resource:* grant only when every verb of that resource is held (or the wildcard itself)', () => {
    expect(scopesBeyond(ROLE_SCOPES.owner, ['agents:*', 'events:*'])).toEqual([]);
    expect(scopesBeyond(ROLE_SCOPES.admin, ['agents:*'])).toEqual(['agents:*']); // admin lacks agents:manage
    expect(scopesBeyond(['events:write'], ['events:*'])).toEqual(['events:*']);
    expect(scopesBeyond(['events:*'], ['events:*'])).toEqual([]);
  });

  it('treats strings outside the registry as never covered', () => {
    expect(scopesBeyond(ROLE_SCOPES.owner, ['root:everything', 'root:*', '*'])).toEqual([
      'root:everything',
      'root:*',
      '*',
    ]);
  });
});

describe('toDeviceView', () => {
  const row = {
    device_id: 'd',
    agent_id: 'a',
    name: 'n',
    scopes: ['events:write'],
    capabilities: {},
    metadata: { is_remote: 'true' },
    created_at: new Date('2026-01-01T00:00:00Z'),
    revoked_at: null,
    last_hello_at: null,
    last_heartbeat_at: new Date('2026-01-02T00:00:00Z'),
  };

  it('marks a device remote only for metadata.is_remote === true and renders timestamps as ISO text', () => {
    expect(toDeviceView(row)).toMatchObject({
      is_remote: false,
      created_at: '2026-01-01T00:00:00.000Z',
      last_heartbeat_at: '2026-01-02T00:00:00.000Z',
      revoked_at: null,
    });
    expect(toDeviceView({ ...row, metadata: { is_remote: true } }).is_remote).toBe(true);
  });
});
