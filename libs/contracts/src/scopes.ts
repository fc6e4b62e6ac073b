/**
 * The one registry of permission scopes. Scopes are exact `resource:verb` strings;
 * `resource:*` is the only wildcard and grants every verb of that resource.
 */
export const SCOPES = [
  'agents:read',
  'agents:manage',
  'spaces:read',
  'spaces:manage',
  'events:read',
  'events:write',
  'memories:read',
  'memories:write',
  'actions:read',
  'actions:approve',
  'devices:manage',
  /** Send commands to an agent's devices and read them (POST/GET /v1/devices/:id/commands). */
  'devices:command',
  'members:manage',
  'presence:write',
  'audit:read',
  'livekit:join',
  'messages:send',
] as const;

export type Scope = (typeof SCOPES)[number];
export type ScopeGrant = Scope | `${string}:*`;

const KNOWN = new Set<string>(SCOPES);
const RESOURCES = new Set<string>(SCOPES.map((s) => s.slice(0, s.indexOf(':'))));

export function isScopeGrant(value: string): value is ScopeGrant {
  if (KNOWN.has(value)) {
    return true;
  }
  const [resource, verb, ...rest] = value.split(':');
  return rest.length === 0 && verb === '*' && RESOURCES.has(resource ?? '');
}

/** True when `granted` contains `required` exactly or through its `resource:*`. */
export function hasScope(granted: readonly string[], required: Scope): boolean {
  if (granted.includes(required)) {
    return true;
  }
  const resource = required.slice(0, required.indexOf(':'));
  return granted.includes(`${resource}:*`);
}

/**
 * The scopes in `required` that `granted` does not cover, in order. A stored string that is not a
 * scope grant from the registry counts as missing: nothing can grant it.
 */
export function missingScopes(granted: readonly string[], required: readonly string[]): string[] {
  return required.filter((scope) => !isScopeGrant(scope) || !hasScope(granted, scope as Scope));
}

export type MembershipRole = 'owner' | 'admin' | 'member' | 'guest';
export const MEMBERSHIP_ROLES: readonly MembershipRole[] = ['owner', 'admin', 'member', 'guest'];

const READ_SCOPES: Scope[] = ['agents:read', 'spaces:read', 'events:read', 'memories:read', 'actions:read'];

/** What each membership role may do; a user's scopes on an agent come only from this table. */
export const ROLE_SCOPES: Readonly<Record<MembershipRole, readonly Scope[]>> = {
  owner: [...SCOPES],
  admin: SCOPES.filter((s) => s !== 'agents:manage'),
  member: [...READ_SCOPES, 'events:write', 'presence:write', 'livekit:join', 'messages:send'],
  guest: ['spaces:read', 'events:write', 'livekit:join'],
};

/** The scopes of a stored role; an unknown role grants nothing. */
export function scopesOfRole(role: string): readonly Scope[] {
  return (ROLE_SCOPES as Partial<Record<string, readonly Scope[]>>)[role] ?? [];
}

/** Scopes a device gets when its creator names none: enough to be a satellite. */
export const DEFAULT_DEVICE_SCOPES: readonly Scope[] = ['events:write', 'presence:write', 'actions:read'];
