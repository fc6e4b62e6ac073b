import {
  DEFAULT_DEVICE_SCOPES,
  hasScope,
  isScopeGrant,
  missingScopes,
  ROLE_SCOPES,
  SCOPES,
  scopesOfRole,
} from './scopes';

describe('scopes', () => {
  it('accepts registered scopes and resource:* wildcards of registered resources only', () => {
    expect(isScopeGrant('events:write')).toBe(true);
    expect(isScopeGrant('events:*')).toBe(true);
    expect(isScopeGrant('events:delete')).toBe(false);
    expect(isScopeGrant('*:read')).toBe(false);
    expect(isScopeGrant('*:*')).toBe(false);
    expect(isScopeGrant('unicorns:*')).toBe(false);
    expect(isScopeGrant('events:write:extra')).toBe(false);
    expect(isScopeGrant('')).toBe(false);
  });

  it('matches a required scope exactly or through its resource wildcard, never across resources', () => {
    expect(hasScope(['events:write'], 'events:write')).toBe(true);
    expect(hasScope(['events:*'], 'events:read')).toBe(true);
    expect(hasScope(['events:read'], 'events:write')).toBe(false);
    expect(hasScope(['memories:*'], 'events:read')).toBe(false);
    expect(hasScope([], 'events:read')).toBe(false);
  });

  it('gives each role a fixed scope set, narrowing from owner to guest', () => {
    expect([...ROLE_SCOPES.owner].sort()).toEqual([...SCOPES].sort());
    expect(ROLE_SCOPES.admin).not.toContain('agents:manage');
    expect(ROLE_SCOPES.admin).toContain('actions:approve');
    expect(ROLE_SCOPES.member).not.toContain('actions:approve');
    expect(ROLE_SCOPES.guest).not.toContain('memories:read');
    for (const role of ['admin', 'member', 'guest'] as const) {
      for (const scope of ROLE_SCOPES[role]) {
        expect(ROLE_SCOPES.owner).toContain(scope);
      }
    }
    expect(scopesOfRole('member')).toBe(ROLE_SCOPES.member);
    expect(scopesOfRole('superuser')).toEqual([]);
  });

  it('gives a satellite device only registered scopes by default', () => {
    for (const scope of DEFAULT_DEVICE_SCOPES) {
      expect(isScopeGrant(scope)).toBe(true);
    }
  });

  it('lists the required scopes a grant does not cover, unknown strings included', () => {
    expect(missingScopes(['events:*', 'actions:read'], ['events:write', 'actions:approve', 'nonsense'])).toEqual([
      'actions:approve',
      'nonsense',
    ]);
    expect(missingScopes(['messages:send'], ['messages:send'])).toEqual([]);
  });
});
