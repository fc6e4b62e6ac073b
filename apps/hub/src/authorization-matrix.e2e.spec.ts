import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { KeyLike } from 'jose';
import {
  ErrorCode,
  hasScope,
  scopesOfRole,
  SCOPES,
  WsCloseCode,
  type ClientMessageType,
  type PrincipalType,
  type Scope,
  type ServerMessage,
} from '@marvain/contracts';
import { asJson, asUuid } from '@marvain/db';
import { testDatabaseKind } from '@marvain/db/testing';
import { LocalUsersService, LocalUserTokens } from '@marvain/identity';
import { testHubConfig } from '@marvain/platform/testing';
import { LocalWebSocketServer } from '@marvain/realtime';
import { HubSocket } from './testing/hub-socket';
import { routeTable, type RouteEntry } from './testing/route-table';
import { SseClient } from './testing/sse-client';
import { TEST_LIVEKIT, webhookBody, webhookHeaders } from './testing/livekit';
import {
  newAgentKey,
  openHubTestServer,
  signAgentAssertion,
  type HttpReply,
  type HubTestServer,
} from './testing/hub-test-server';

// Opening the hub on a fresh database takes seconds on a busy machine.
jest.setTimeout(120_000);

/*
 * The authorization matrix: every route of the route table × every kind of caller. Each caller
 * works against agent A (where the role holders are members and the devices and the agent
 * principal belong); agent B is a stranger to all of them. For every valid caller each route is
 * also called on B's resource and on a missing id: the two must answer alike and never succeed,
 * and no response may carry an id of B's that the request did not name.
 */

const CALLERS = [
  'anonymous',
  'malformed token',
  'expired token',
  'user with no membership',
  'guest',
  'member',
  'admin',
  'owner',
  'device without the scope',
  'device with the scope',
  'revoked device',
  'rotated-out token',
  'agent principal',
  'replayed agent assertion',
] as const;
type CallerKind = (typeof CALLERS)[number];

/** A caller as the matrix needs it: its credential, and what it should hold on agent A. */
interface Caller {
  kind: CallerKind;
  /** null: the credential itself must be refused (401). */
  type: PrincipalType | null;
  scopesOnA: readonly string[];
  /** Whether the caller is a user member of A (leave needs one). */
  memberRole: string | null;
  token(): Promise<string | null>;
}

interface Side {
  agentId: string;
  spaceId: string;
  ownerUserId: string;
  ownerToken: string;
}

type Target = { side: Side } | { missing: true };
const isMissing = (target: Target): target is { missing: true } => 'missing' in target;

interface Request {
  method: string;
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** A Server-Sent Events route: its success is a stream that does not end. */
  streaming?: boolean;
}

const USER_TYPES: readonly PrincipalType[] = ['user'];
const USERS_AND_DEVICES: readonly PrincipalType[] = ['user', 'device'];

const ALL_SCOPES: readonly Scope[] = SCOPES;

/**
 * The scope of the devices the device routes create and manage: one every caller that may manage
 * devices holds, so no allowed call is refused as an escalation (granting or re-issuing scopes
 * the caller lacks is refused, as the devices spec shows).
 */
const MANAGED_DEVICE_SCOPE: Scope = 'devices:manage';

describe(`authorization matrix (${testDatabaseKind()})`, () => {
  let hub: HubTestServer;

  /**
   * One request. A request of a streaming route (SSE) is answered by its status and, for an
   * error, its body: a stream that opened is closed at once (its body never ends).
   */
  const send = async (request: Request, token: string | null): Promise<HttpReply> => {
    if (!request.streaming) {
      return hub.call(request.method, request.url, token, request.body, request.headers);
    }
    const opened = await SseClient.open(hub.base, request.url, token, request.headers);
    opened.client?.close();
    return { status: opened.status, text: JSON.stringify(opened.json ?? null), json: opened.json ?? null };
  };

  /** A setup call that must succeed; returns its JSON. */
  const must = async (request: Request, token: string, status = 201): Promise<any> => {
    const response = await send(request, token);
    if (response.status !== status) {
      throw new Error(`setup ${request.method} ${request.url} answered ${response.status}: ${response.text}`);
    }
    return response.json;
  };

  beforeAll(async () => {
    // The satellite download serves whatever build the hub is pointed at; this one is a stand-in.
    const satelliteBundle = path.join(mkdtempSync(path.join(tmpdir(), 'marvain-matrix-')), 'marvain-satellite.cjs');
    writeFileSync(satelliteBundle, '// the satellite daemon\n');
    hub = await openHubTestServer({
      // LiveKit configured (offline: tokens and webhook signatures need only the key and secret).
      config: testHubConfig({ livekit: TEST_LIVEKIT, satelliteBundle }),
      localControlSecret: randomUUID(),
      beforeListen: (app) => app.get(LocalWebSocketServer).attach(app.getHttpServer()),
    });
  });
  afterAll(() => hub.close());

  // -------------------------------------------------------------------------------------------
  // The world: agent A with one member of each role, devices and its own key; agent B, a stranger.

  class World {
    readonly foreignIds = new Set<string>();
    private assertionKey!: KeyLike;
    credentialIdA!: string;
    credentialIdB!: string;
    a!: Side;
    b!: Side;
    users!: Record<'outsider' | 'guest' | 'member' | 'admin', { userId: string; token: string }>;
    private revokedDeviceToken!: string;
    private rotatedOutToken!: string;
    private replayedAssertion!: string;
    private expiredToken!: string;

    async build(): Promise<this> {
      this.a = await this.side('A');
      this.b = await this.side('B');
      for (const id of [this.b.agentId, this.b.spaceId, this.b.ownerUserId]) {
        this.foreignIds.add(id);
      }

      const users = hub.app.get(LocalUsersService);
      const user = async (role: string | null): Promise<{ userId: string; token: string }> => {
        const created = await users.create(`${role ?? 'outsider'}-${randomUUID()}@example.test`, null);
        if (role) {
          await must(
            { method: 'POST', url: `/v1/agents/${this.a.agentId}/members`, body: { user_id: created.user_id, role } },
            this.a.ownerToken,
          );
        }
        return { userId: created.user_id, token: created.user_token };
      };
      this.users = {
        outsider: await user(null),
        guest: await user('guest'),
        member: await user('member'),
        admin: await user('admin'),
      };

      const revoked = await this.device(this.a, [...ALL_SCOPES]);
      await must({ method: 'POST', url: `/v1/devices/${revoked.id}/revoke` }, this.a.ownerToken, 200);
      this.revokedDeviceToken = revoked.token;
      const rotated = await this.device(this.a, [...ALL_SCOPES]);
      await must({ method: 'POST', url: `/v1/devices/${rotated.id}/rotate-token` }, this.a.ownerToken, 200);
      this.rotatedOutToken = rotated.token;

      const key = await newAgentKey();
      this.assertionKey = key.privateKey;
      const jwk = key.publicJwk;
      this.credentialIdA = (
        await must(
          { method: 'POST', url: `/v1/agents/${this.a.agentId}/credentials`, body: { alg: 'EdDSA', public_key: jwk } },
          this.a.ownerToken,
        )
      ).credential_id as string;
      const foreignKey = (await newAgentKey()).publicJwk;
      this.credentialIdB = (
        await must(
          {
            method: 'POST',
            url: `/v1/agents/${this.b.agentId}/credentials`,
            body: { alg: 'EdDSA', public_key: foreignKey },
          },
          this.b.ownerToken,
        )
      ).credential_id as string;
      this.foreignIds.add(this.credentialIdB);
      this.replayedAssertion = await this.assertion();
      await must({ method: 'GET', url: '/v1/me' }, this.replayedAssertion, 200);

      // The owner's own identity, signed by the hub's key, but an hour ago with a one-minute life.
      const owner = await hub.kysely
        .selectFrom('users')
        .select(['subject', 'email'])
        .where('user_id', '=', asUuid(this.a.ownerUserId))
        .executeTakeFirstOrThrow();
      const anHourAgo = { now: () => new Date(Date.now() - 3_600_000) };
      this.expiredToken = await new LocalUserTokens(LocalUserTokens.keyFileIn(hub.config.dataDir), 60, anHourAgo).issue(
        {
          subject: owner.subject,
          email: owner.email,
          displayName: null,
        },
      );
      return this;
    }

    private async side(name: string): Promise<Side> {
      const home = await hub.bootstrap(`agent ${name}`, `home ${name}`);
      return { agentId: home.agent_id, spaceId: home.space_id, ownerUserId: home.user_id, ownerToken: home.user_token };
    }

    /** A fresh signed assertion of agent A (each one is accepted once). */
    assertion(): Promise<string> {
      return signAgentAssertion(this.a.agentId, { privateKey: this.assertionKey });
    }

    track<T extends string>(side: Side, id: T): T {
      if (side === this.b) {
        this.foreignIds.add(id);
      }
      return id;
    }

    async device(side: Side, scopes: string[]): Promise<{ id: string; token: string }> {
      const created = await must(
        { method: 'POST', url: `/v1/agents/${side.agentId}/devices`, body: { name: `device ${randomUUID()}`, scopes } },
        side.ownerToken,
      );
      return { id: this.track(side, created.device.device_id as string), token: created.token as string };
    }

    async person(side: Side): Promise<string> {
      const created = await must(
        { method: 'POST', url: `/v1/agents/${side.agentId}/people`, body: { display_name: 'Ada' } },
        side.ownerToken,
      );
      return this.track(side, created.person_id as string);
    }

    async consent(side: Side): Promise<string> {
      const person = await this.person(side);
      const created = await must(
        { method: 'POST', url: `/v1/people/${person}/consents`, body: { consent_type: 'voice' } },
        side.ownerToken,
      );
      return this.track(side, created.consent_id as string);
    }

    async member(side: Side, role: 'guest' | 'member' | 'admin'): Promise<string> {
      const created = await hub.app.get(LocalUsersService).create(`${role}-${randomUUID()}@example.test`, null);
      await must(
        { method: 'POST', url: `/v1/agents/${side.agentId}/members`, body: { user_id: created.user_id, role } },
        side.ownerToken,
      );
      return this.track(side, created.user_id);
    }

    async action(side: Side): Promise<string> {
      const actionId = this.track(side, randomUUID());
      await hub.kysely
        .insertInto('actions')
        .values({
          action_id: asUuid(actionId),
          agent_id: asUuid(side.agentId),
          space_id: asUuid(side.spaceId),
          kind: 'send_message',
          payload: asJson({ text: 'hello' }),
          required_scopes: asJson(['messages:send']),
          status: 'proposed',
          reason: 'matrix',
        })
        .execute();
      return actionId;
    }

    /** A command of a fresh device of the side, sent by the side's owner. */
    async command(side: Side): Promise<{ deviceId: string; commandId: string }> {
      const device = await this.device(side, [MANAGED_DEVICE_SCOPE]);
      const created = await must(
        { method: 'POST', url: `/v1/devices/${device.id}/commands`, body: { kind: 'ping' } },
        side.ownerToken,
      );
      return { deviceId: device.id, commandId: this.track(side, created.command_id as string) };
    }

    callers(scope: Scope | null): Caller[] {
      const noScopes: readonly string[] = [];
      const role = (name: 'owner' | 'admin' | 'member' | 'guest', token: string): Caller => ({
        kind: name,
        type: 'user',
        scopesOnA: scopesOfRole(name),
        memberRole: name,
        token: () => Promise.resolve(token),
      });
      const fixed = (token: string | null) => () => Promise.resolve(token);
      // Devices are made when first asked for, so each route gets its own pair.
      let withScope: Promise<{ token: string }> | null = null;
      let withoutScope: Promise<{ token: string }> | null = null;
      const granted = scope ? [scope] : [];
      const others = ALL_SCOPES.filter((s) => s !== scope);
      return [
        { kind: 'anonymous', type: null, scopesOnA: noScopes, memberRole: null, token: fixed(null) },
        {
          kind: 'malformed token',
          type: null,
          scopesOnA: noScopes,
          memberRole: null,
          token: fixed('this-is.not-a.credential'),
        },
        { kind: 'expired token', type: null, scopesOnA: noScopes, memberRole: null, token: fixed(this.expiredToken) },
        {
          kind: 'user with no membership',
          type: 'user',
          scopesOnA: noScopes,
          memberRole: null,
          token: fixed(this.users.outsider.token),
        },
        role('guest', this.users.guest.token),
        role('member', this.users.member.token),
        role('admin', this.users.admin.token),
        role('owner', this.a.ownerToken),
        {
          kind: 'device without the scope',
          type: 'device',
          scopesOnA: others,
          memberRole: null,
          token: async () => (await (withoutScope ??= this.device(this.a, others))).token,
        },
        {
          kind: 'device with the scope',
          type: 'device',
          scopesOnA: granted,
          memberRole: null,
          token: async () => (await (withScope ??= this.device(this.a, granted))).token,
        },
        {
          kind: 'revoked device',
          type: null,
          scopesOnA: noScopes,
          memberRole: null,
          token: fixed(this.revokedDeviceToken),
        },
        {
          kind: 'rotated-out token',
          type: null,
          scopesOnA: noScopes,
          memberRole: null,
          token: fixed(this.rotatedOutToken),
        },
        {
          kind: 'agent principal',
          type: 'agent',
          scopesOnA: ['agents:read'],
          memberRole: null,
          token: () => this.assertion(),
        },
        {
          kind: 'replayed agent assertion',
          type: null,
          scopesOnA: noScopes,
          memberRole: null,
          token: fixed(this.replayedAssertion),
        },
      ];
    }
  }

  // -------------------------------------------------------------------------------------------
  // What a valid request of each route looks like. The matrix fails if the app serves a route
  // that is not described here (or this describes one it does not serve).

  interface RouteSpec {
    /** Principal types the route serves; any other type is refused even with the scope. */
    serves: readonly PrincipalType[];
    success: number;
    /** Builds the request against A's resource, B's, or a missing id. */
    request(world: World, target: Target, caller: Caller): Promise<Request>;
    /** Routes whose success changes agent A for the next caller get a world per caller. */
    worldPerCaller?: boolean;
    /** For routes without a scope: the expected status for a valid caller on agent A. */
    expectOwn?(caller: Caller): number;
    /** Whether the route takes an id the foreign/missing comparison can vary (most do). */
    targeted?: boolean;
  }

  const idOf = async (target: Target, make: (side: Side) => Promise<string>): Promise<string> =>
    isMissing(target) ? randomUUID() : make(target.side);
  const agentOf = (target: Target): string => (isMissing(target) ? randomUUID() : target.side.agentId);
  const spaceOf = (target: Target): string => (isMissing(target) ? randomUUID() : target.side.spaceId);
  const get = (url: string): Request => ({ method: 'GET', url });
  const post = (url: string, body?: unknown): Request => ({
    method: 'POST',
    url,
    ...(body === undefined ? {} : { body }),
  });
  const patch = (url: string, body: unknown): Request => ({ method: 'PATCH', url, body });

  const authenticatedEverywhere = (success: number) => (caller: Caller) => (caller.type ? success : 401);

  const ROUTES: Record<string, RouteSpec> = {
    'GET /v1/health': {
      serves: ['user', 'device', 'agent'],
      success: 200,
      targeted: false,
      request: () => Promise.resolve(get('/v1/health')),
    },
    'GET /v1/satellite/marvain-satellite.cjs': {
      serves: ['user', 'device', 'agent'],
      success: 200,
      targeted: false,
      request: () => Promise.resolve(get('/v1/satellite/marvain-satellite.cjs')),
    },
    'GET /v1/me': {
      serves: ['user', 'device', 'agent'],
      success: 200,
      targeted: false,
      expectOwn: authenticatedEverywhere(200),
      request: () => Promise.resolve(get('/v1/me')),
    },

    // The operator's local control routes answer only to the secret in the hub's lock file.
    'POST /v1/local/bootstrap': {
      serves: [],
      success: 201,
      targeted: false,
      request: () => Promise.resolve(post('/v1/local/bootstrap', { agent_name: 'x', space_name: 'y' })),
    },
    'POST /v1/local/users': {
      serves: [],
      success: 201,
      targeted: false,
      request: () => Promise.resolve(post('/v1/local/users', { email: `u-${randomUUID()}@example.test` })),
    },
    'POST /v1/local/tokens': {
      serves: [],
      success: 201,
      targeted: false,
      request: (w) => Promise.resolve(post('/v1/local/tokens', { user_id: w.a.ownerUserId })),
    },
    'POST /v1/local/users/revoke-tokens': {
      serves: [],
      success: 200,
      targeted: false,
      worldPerCaller: true,
      request: (w) => Promise.resolve(post('/v1/local/users/revoke-tokens', { user_id: w.a.ownerUserId })),
    },
    'POST /v1/local/audit/verify': {
      serves: [],
      success: 200,
      targeted: false,
      request: () => Promise.resolve(post('/v1/local/audit/verify', {})),
    },
    // A user revokes their own tokens (the one presented included), so each caller gets a world.
    'POST /v1/me/tokens/revoke': {
      serves: USER_TYPES,
      success: 200,
      targeted: false,
      worldPerCaller: true,
      expectOwn: (caller) => (caller.type === 'user' ? 200 : caller.type ? 403 : 401),
      request: () => Promise.resolve(post('/v1/me/tokens/revoke')),
    },

    'POST /v1/agents': {
      serves: USER_TYPES,
      success: 201,
      targeted: false,
      expectOwn: (caller) => (!caller.type ? 401 : caller.type === 'user' ? 201 : 403),
      request: () => Promise.resolve(post('/v1/agents', { name: 'another' })),
    },
    'GET /v1/agents': {
      serves: ['user', 'device', 'agent'],
      success: 200,
      targeted: false,
      expectOwn: authenticatedEverywhere(200),
      request: () => Promise.resolve(get('/v1/agents')),
    },
    'GET /v1/agents/:agent_id': {
      serves: ['user', 'device', 'agent'],
      success: 200,
      request: (_w, t) => Promise.resolve(get(`/v1/agents/${agentOf(t)}`)),
    },
    'PATCH /v1/agents/:agent_id': {
      serves: USER_TYPES,
      success: 200,
      request: (_w, t) => Promise.resolve(patch(`/v1/agents/${agentOf(t)}`, { name: 'renamed' })),
    },
    'POST /v1/agents/:agent_id/disable': {
      serves: USER_TYPES,
      success: 200,
      worldPerCaller: true,
      request: (_w, t) => Promise.resolve(post(`/v1/agents/${agentOf(t)}/disable`)),
    },
    // Open to any principal at the guard (a disabled agent grants its owner no scope); the service
    // lets only a member holding agents:manage through, and a non-member sees no agent at all.
    'POST /v1/agents/:agent_id/enable': {
      serves: USER_TYPES,
      success: 200,
      expectOwn: (caller) =>
        !caller.type
          ? 401
          : caller.type !== 'user'
            ? 403
            : caller.memberRole === 'owner'
              ? 200
              : caller.memberRole
                ? 403
                : 404,
      request: (_w, t) => Promise.resolve(post(`/v1/agents/${agentOf(t)}/enable`)),
    },

    'GET /v1/agents/:agent_id/members': {
      serves: USERS_AND_DEVICES,
      success: 200,
      request: (_w, t) => Promise.resolve(get(`/v1/agents/${agentOf(t)}/members`)),
    },
    'POST /v1/agents/:agent_id/members': {
      serves: USER_TYPES,
      success: 201,
      request: async (_w, t) => {
        const user = await hub.app.get(LocalUsersService).create(`new-${randomUUID()}@example.test`, null);
        return post(`/v1/agents/${agentOf(t)}/members`, { user_id: user.user_id, role: 'member' });
      },
    },
    'PATCH /v1/agents/:agent_id/members/:user_id': {
      serves: USER_TYPES,
      success: 200,
      request: async (w, t) =>
        patch(`/v1/agents/${agentOf(t)}/members/${await idOf(t, (s) => w.member(s, 'guest'))}`, { role: 'member' }),
    },
    'POST /v1/agents/:agent_id/members/:user_id/revoke': {
      serves: USER_TYPES,
      success: 200,
      request: async (w, t) =>
        post(`/v1/agents/${agentOf(t)}/members/${await idOf(t, (s) => w.member(s, 'guest'))}/revoke`),
    },
    'POST /v1/agents/:agent_id/leave': {
      serves: USER_TYPES,
      success: 200,
      // Any member but the owner may leave; a caller that is no member of A sees no agent A.
      expectOwn: (caller) =>
        !caller.type
          ? 401
          : caller.memberRole === 'owner'
            ? 409
            : caller.memberRole
              ? 200
              : caller.type === 'user'
                ? 404
                : 403,
      request: (_w, t) => Promise.resolve(post(`/v1/agents/${agentOf(t)}/leave`)),
    },
    'POST /v1/agents/:agent_id/transfer-ownership': {
      serves: USER_TYPES,
      success: 200,
      worldPerCaller: true,
      request: async (w, t) =>
        post(`/v1/agents/${agentOf(t)}/transfer-ownership`, { user_id: await idOf(t, (s) => w.member(s, 'admin')) }),
    },

    'POST /v1/agents/:agent_id/credentials': {
      serves: USER_TYPES,
      success: 201,
      worldPerCaller: true,
      request: async (_w, t) => {
        return post(`/v1/agents/${agentOf(t)}/credentials`, {
          alg: 'EdDSA',
          public_key: (await newAgentKey()).publicJwk,
        });
      },
    },
    'GET /v1/agents/:agent_id/credentials': {
      serves: USERS_AND_DEVICES,
      success: 200,
      request: (_w, t) => Promise.resolve(get(`/v1/agents/${agentOf(t)}/credentials`)),
    },
    'POST /v1/agents/:agent_id/credentials/:credential_id/revoke': {
      serves: USER_TYPES,
      success: 200,
      worldPerCaller: true,
      request: (w, t) =>
        Promise.resolve(
          post(
            `/v1/agents/${agentOf(t)}/credentials/${isMissing(t) ? randomUUID() : t.side === w.a ? w.credentialIdA : w.credentialIdB}/revoke`,
          ),
        ),
    },

    'POST /v1/agents/:agent_id/devices': {
      serves: USERS_AND_DEVICES,
      success: 201,
      request: (_w, t) =>
        Promise.resolve(
          post(`/v1/agents/${agentOf(t)}/devices`, { name: 'satellite', scopes: [MANAGED_DEVICE_SCOPE] }),
        ),
    },
    'GET /v1/agents/:agent_id/devices': {
      serves: USERS_AND_DEVICES,
      success: 200,
      request: (_w, t) => Promise.resolve(get(`/v1/agents/${agentOf(t)}/devices`)),
    },
    'GET /v1/devices/:device_id': {
      serves: USERS_AND_DEVICES,
      success: 200,
      request: async (w, t) =>
        get(`/v1/devices/${await idOf(t, async (s) => (await w.device(s, [MANAGED_DEVICE_SCOPE])).id)}`),
    },
    'POST /v1/devices/:device_id/revoke': {
      serves: USERS_AND_DEVICES,
      success: 200,
      request: async (w, t) =>
        post(`/v1/devices/${await idOf(t, async (s) => (await w.device(s, [MANAGED_DEVICE_SCOPE])).id)}/revoke`),
    },
    'POST /v1/devices/:device_id/rotate-token': {
      serves: USERS_AND_DEVICES,
      success: 200,
      request: async (w, t) =>
        post(`/v1/devices/${await idOf(t, async (s) => (await w.device(s, [MANAGED_DEVICE_SCOPE])).id)}/rotate-token`),
    },
    'POST /v1/devices/heartbeat': {
      serves: ['device'],
      success: 200,
      request: (_w, t) => Promise.resolve(post('/v1/devices/heartbeat', { space_id: spaceOf(t), status: 'online' })),
    },

    'POST /v1/agents/:agent_id/spaces': {
      serves: USERS_AND_DEVICES,
      success: 201,
      request: (_w, t) => Promise.resolve(post(`/v1/agents/${agentOf(t)}/spaces`, { name: `room ${randomUUID()}` })),
    },
    'GET /v1/agents/:agent_id/spaces': {
      serves: USERS_AND_DEVICES,
      success: 200,
      request: (_w, t) => Promise.resolve(get(`/v1/agents/${agentOf(t)}/spaces`)),
    },
    'GET /v1/spaces/:space_id': {
      serves: USERS_AND_DEVICES,
      success: 200,
      request: (_w, t) => Promise.resolve(get(`/v1/spaces/${spaceOf(t)}`)),
    },
    'PATCH /v1/spaces/:space_id': {
      serves: USERS_AND_DEVICES,
      success: 200,
      request: (_w, t) => Promise.resolve(patch(`/v1/spaces/${spaceOf(t)}`, { privacy_mode: true })),
    },
    'GET /v1/agents/:agent_id/presence': {
      serves: USERS_AND_DEVICES,
      success: 200,
      request: (_w, t) => Promise.resolve(get(`/v1/agents/${agentOf(t)}/presence`)),
    },
    'GET /v1/spaces/:space_id/presence': {
      serves: USERS_AND_DEVICES,
      success: 200,
      request: (_w, t) => Promise.resolve(get(`/v1/spaces/${spaceOf(t)}/presence`)),
    },

    'POST /v1/spaces/:space_id/livekit-token': {
      serves: USERS_AND_DEVICES,
      success: 200,
      request: (_w, t) => Promise.resolve(post(`/v1/spaces/${spaceOf(t)}/livekit-token`)),
    },
    // Public to the guard: its credential is LiveKit's signature over the body, whatever bearer token comes with it.
    'POST /v1/livekit/webhook': {
      serves: [],
      success: 200,
      targeted: false,
      request: async (w) => {
        const body = webhookBody(
          'participant_joined',
          `marvain-${w.a.agentId}-${w.a.spaceId}`,
          `user:${w.a.ownerUserId}`,
        );
        return { method: 'POST', url: '/v1/livekit/webhook', body, headers: await webhookHeaders(body) };
      },
    },

    'POST /v1/agents/:agent_id/people': {
      serves: USERS_AND_DEVICES,
      success: 201,
      request: (_w, t) => Promise.resolve(post(`/v1/agents/${agentOf(t)}/people`, { display_name: 'Grace' })),
    },
    'GET /v1/agents/:agent_id/people': {
      serves: USERS_AND_DEVICES,
      success: 200,
      request: (_w, t) => Promise.resolve(get(`/v1/agents/${agentOf(t)}/people`)),
    },
    'POST /v1/people/:person_id/consents': {
      serves: USERS_AND_DEVICES,
      success: 201,
      request: async (w, t) =>
        post(`/v1/people/${await idOf(t, (s) => w.person(s))}/consents`, { consent_type: 'face' }),
    },
    'GET /v1/people/:person_id/consents': {
      serves: USERS_AND_DEVICES,
      success: 200,
      request: async (w, t) => get(`/v1/people/${await idOf(t, async (s) => w.person(s))}/consents`),
    },
    'POST /v1/consents/:consent_id/revoke': {
      serves: USERS_AND_DEVICES,
      success: 200,
      request: async (w, t) =>
        post(`/v1/consents/${await idOf(t, (s) => w.consent(s))}/revoke`, { reason: 'asked to' }),
    },

    'POST /v1/events': {
      serves: USERS_AND_DEVICES,
      success: 202,
      request: (_w, t) =>
        Promise.resolve(post('/v1/events', { space_id: spaceOf(t), type: 'transcript', payload: { text: 'hi' } })),
    },
    'GET /v1/memories': {
      serves: USERS_AND_DEVICES,
      success: 200,
      request: (_w, t) => Promise.resolve(get(`/v1/memories?agent_id=${agentOf(t)}`)),
    },
    'GET /v1/actions': {
      serves: USERS_AND_DEVICES,
      success: 200,
      request: (_w, t) => Promise.resolve(get(`/v1/actions?agent_id=${agentOf(t)}`)),
    },
    'GET /v1/actions/:id': {
      serves: USERS_AND_DEVICES,
      success: 200,
      request: async (w, t) => get(`/v1/actions/${await idOf(t, (s) => w.action(s))}`),
    },
    'POST /v1/actions/:id/approve': {
      serves: USER_TYPES,
      success: 200,
      request: async (w, t) => post(`/v1/actions/${await idOf(t, (s) => w.action(s))}/approve`),
    },
    'POST /v1/actions/:id/reject': {
      serves: USER_TYPES,
      success: 200,
      request: async (w, t) => post(`/v1/actions/${await idOf(t, (s) => w.action(s))}/reject`, { reason: 'not now' }),
    },
    'GET /v1/agents/:agent_id/stream': {
      serves: USERS_AND_DEVICES,
      success: 200,
      request: (_w, t) =>
        Promise.resolve({
          method: 'GET',
          url: `/v1/agents/${agentOf(t)}/stream?topics=events.new`,
          streaming: true,
        }),
      // Read only when the route checks each topic's scope itself (no declared scope): a user who is
      // no member sees no agent A, as on the other agent routes that do; events.new needs events:read.
      expectOwn: (caller) =>
        !caller.type
          ? 401
          : caller.type === 'user' && !caller.memberRole
            ? 404
            : hasScope(caller.scopesOnA, 'events:read') && USERS_AND_DEVICES.includes(caller.type)
              ? 200
              : 403,
    },
    'POST /v1/devices/:device_id/commands': {
      serves: USERS_AND_DEVICES,
      success: 201,
      request: async (w, t) =>
        post(`/v1/devices/${await idOf(t, async (s) => (await w.device(s, [MANAGED_DEVICE_SCOPE])).id)}/commands`, {
          kind: 'ping',
        }),
    },
    'GET /v1/devices/:device_id/commands': {
      serves: USERS_AND_DEVICES,
      success: 200,
      request: async (w, t) => get(`/v1/devices/${await idOf(t, async (s) => (await w.command(s)).deviceId)}/commands`),
    },
    'GET /v1/devices/:device_id/commands/:command_id': {
      serves: USERS_AND_DEVICES,
      success: 200,
      request: async (w, t) => {
        const { deviceId, commandId } = isMissing(t)
          ? { deviceId: randomUUID(), commandId: randomUUID() }
          : await w.command(t.side);
        return get(`/v1/devices/${deviceId}/commands/${commandId}`);
      },
    },
    'GET /v1/audit/verify': {
      serves: USERS_AND_DEVICES,
      success: 200,
      request: (_w, t) => Promise.resolve(get(`/v1/audit/verify?agent_id=${agentOf(t)}`)),
    },
  };

  /** What a caller should get from a route on agent A, from the route's declaration and the policy above. */
  function expectedOwn(route: RouteEntry, spec: RouteSpec, caller: Caller): number {
    if (route.access.kind === 'public') {
      return route.path.startsWith('/v1/local/') ? 401 : spec.success;
    }
    if (!caller.type) {
      return 401;
    }
    if (route.access.kind === 'authenticated') {
      if (!spec.expectOwn) {
        throw new Error(`${route.key} is open to any principal; say what each one gets (expectOwn)`);
      }
      return spec.expectOwn(caller);
    }
    if (route.access.kind !== 'scope') {
      throw new Error(`${route.key} declares no scope`);
    }
    if (!hasScope(caller.scopesOnA, route.access.scope)) {
      return 403;
    }
    if (!spec.serves.includes(caller.type)) {
      return 403;
    }
    return spec.success;
  }

  const scopeOf = (route: RouteEntry): Scope | null => (route.access.kind === 'scope' ? route.access.scope : null);

  let table: RouteEntry[];
  beforeAll(() => {
    table = routeTable(hub.app);
  });

  it('describes every route the hub serves, and only those', () => {
    expect(Object.keys(ROUTES).sort()).toEqual(table.map((r) => r.key).sort());
  });

  it('finds every route declaring exactly one of @Public, @Authenticated or @RequireScope', () => {
    const undeclared = table
      .filter((r) => r.declarations !== 1)
      .map((r) => `${r.key} (${r.controller}.${r.handler}): ${r.declarations} declarations`);
    expect(undeclared).toEqual([]);
  });

  it('answers every route × caller as the policy says, with no unauthorized success and nothing of another agent', async () => {
    const failures: string[] = [];
    const seen = { cases: 0, allowed: 0, denied: 0 };
    let shared: World | null = null;

    for (const route of table) {
      const spec = ROUTES[route.key];
      if (!spec) {
        continue; // reported by the test above
      }
      const routeWorld = spec.worldPerCaller ? null : await new World().build();
      for (const kind of CALLERS) {
        const world = routeWorld ?? (await new World().build());
        shared = world;
        const caller = world.callers(scopeOf(route)).find((c) => c.kind === kind)!;
        const label = `${route.key} as ${kind}`;

        // Against B's resource and a missing id first (a successful call on A might end the caller's membership).
        if (caller.type && spec.targeted !== false) {
          const foreignRequest = await spec.request(world, { side: world.b }, caller);
          const foreign = await send(foreignRequest, await caller.token());
          const missing = await send(await spec.request(world, { missing: true }, caller), await caller.token());
          seen.cases += 2;
          if (foreign.status < 400) {
            failures.push(`${label} on agent B's resource: ${foreign.status} ${foreign.text.slice(0, 200)}`);
          }
          if (foreign.status !== missing.status || foreign.json?.error?.code !== missing.json?.error?.code) {
            failures.push(
              `${label}: B's resource answered ${foreign.status} ${foreign.json?.error?.code}, a missing id ${missing.status} ${missing.json?.error?.code}`,
            );
          }
          const leaked = leakedIds(world, foreignRequest, foreign.text);
          if (leaked.length > 0) {
            failures.push(`${label} on B's resource leaked ${leaked.join(', ')}`);
          }
        }

        const request = await spec.request(world, { side: world.a }, caller);
        const response = await send(request, await caller.token());
        seen.cases += 1;
        const expected = expectedOwn(route, spec, caller);
        if (response.status < 400) {
          seen.allowed += 1;
        } else {
          seen.denied += 1;
        }
        if (response.status !== expected) {
          failures.push(`${label}: expected ${expected}, got ${response.status} ${response.text.slice(0, 200)}`);
        }
        if (response.status >= 400 && typeof response.json?.error?.code !== 'string') {
          failures.push(`${label}: an error without a code: ${response.text.slice(0, 200)}`);
        }
        const leaked = leakedIds(world, request, response.text);
        if (leaked.length > 0) {
          failures.push(`${label} leaked ${leaked.join(', ')} of agent B`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(shared).not.toBeNull();
    // The matrix must exercise both outcomes broadly, or it proves nothing.
    expect(seen.allowed).toBeGreaterThan(100);
    expect(seen.denied).toBeGreaterThan(300);
  }, 600_000);

  it('accepts on the WebSocket exactly the callers the REST guard accepts (one resolver)', async () => {
    const world = await new World().build();
    const answers: Record<string, string> = {};
    const expected: Record<string, string> = {};
    for (const caller of world.callers('events:write')) {
      // A socket per caller: a connection is one principal's (hello as another is refused).
      const socket = await HubSocket.open(hub.base);
      const token = await caller.token();
      const reply = await socket.request(token === null ? { type: 'hello' } : { type: 'hello', token });
      await socket.close();
      answers[caller.kind] =
        reply.type === 'hello_ok' ? `hello_ok ${reply['principal'].type}` : `error ${reply['error']?.code}`;
      expected[caller.kind] = caller.type
        ? `hello_ok ${caller.type}`
        : caller.kind === 'anonymous'
          ? 'error validation_failed'
          : 'error unauthenticated';
    }
    expect(answers).toEqual(expected);
  });

  // -------------------------------------------------------------------------------------------
  // The same matrix over the WebSocket: every verb × every caller × agent A, agent B and a missing
  // id. A verb with a REST twin must answer as its twin answers the same caller (the twin's own
  // answers are pinned by the matrix above); B's ids answer exactly like missing ones; no reply
  // carries an id of B's the message did not name.

  interface VerbSpec {
    /** The REST twin (a key of ROUTES) whose answer this verb must give, or null when it has none. */
    twin: string | null;
    /** The scope the verb needs on the agent (its twin's); null for one every principal may send. */
    scope: Scope | null;
    /** The reply type of a success. */
    success: ServerMessage['type'];
    /** Whether the message names an agent's resource the foreign/missing comparison can vary. */
    targeted: boolean;
    message(world: World, target: Target): Promise<Record<string, unknown>>;
    /** For a verb without a twin: what a caller gets on agent A ('=foreign': whatever B and a missing id get). */
    expectOwn?(caller: Caller): string;
  }

  /** `reply type` for a success, `error <code>` for a refusal: what the matrix compares. */
  const outcomeOf = (reply: Record<string, any>): string =>
    reply['type'] === 'error' ? `error ${reply['error']?.code}` : String(reply['type']);
  const restOutcome = (reply: HttpReply, success: string): string =>
    reply.status < 400 ? success : `error ${reply.json?.error?.code}`;

  /**
   * Every verb of the protocol. `satisfies` makes a verb added to ClientMessage without an entry
   * here a compile error, so no verb escapes the matrix.
   */
  const VERBS = {
    hello: {
      // hello is the authentication itself: the test after the matrix sends it as every caller.
      twin: null,
      scope: null,
      success: 'hello_ok',
      targeted: false,
      // Never sent by the matrix loop: hello is what each caller's socket starts with.
      message: () => Promise.resolve({ type: 'hello' }),
      expectOwn: () => 'hello_ok',
    },
    ping: {
      twin: null,
      scope: null,
      success: 'pong',
      targeted: false,
      message: () => Promise.resolve({ type: 'ping' }),
      // Served before hello too: a liveness check reveals nothing.
      expectOwn: () => 'pong',
    },
    heartbeat: {
      twin: 'POST /v1/devices/heartbeat',
      scope: 'presence:write',
      success: 'heartbeat_ok',
      targeted: true,
      message: (_w, t) => Promise.resolve({ type: 'heartbeat', space_id: spaceOf(t), status: 'online' }),
    },
    send_event: {
      twin: 'POST /v1/events',
      scope: 'events:write',
      success: 'event_ack',
      targeted: true,
      message: (_w, t) =>
        Promise.resolve({
          type: 'send_event',
          event: { space_id: spaceOf(t), type: 'transcript', payload: { text: 'hi' } },
        }),
    },
    push_transcript: {
      twin: 'POST /v1/events',
      scope: 'events:write',
      success: 'event_ack',
      targeted: true,
      message: (_w, t) => Promise.resolve({ type: 'push_transcript', space_id: spaceOf(t), text: 'hi' }),
    },
    subscribe: {
      twin: 'GET /v1/agents/:agent_id/stream',
      scope: 'events:read',
      success: 'subscribed',
      targeted: true,
      message: (_w, t) => Promise.resolve({ type: 'subscribe', agent_id: agentOf(t), topics: ['events.new'] }),
    },
    unsubscribe: {
      twin: null,
      scope: null,
      success: 'unsubscribed',
      targeted: true,
      message: (_w, t) => Promise.resolve({ type: 'unsubscribe', agent_id: agentOf(t) }),
      // No subscription exists on any of the three: the hub cannot, and must not, tell them apart.
      expectOwn: (caller) => (caller.type ? '=foreign' : `error ${ErrorCode.Unauthenticated}`),
    },
    subscribe_presence: {
      twin: 'GET /v1/agents/:agent_id/presence',
      scope: 'spaces:read',
      success: 'presence',
      targeted: true,
      message: (_w, t) => Promise.resolve({ type: 'subscribe_presence', agent_id: agentOf(t) }),
    },
    list_actions: {
      twin: 'GET /v1/actions',
      scope: 'actions:read',
      success: 'actions',
      targeted: true,
      message: (_w, t) => Promise.resolve({ type: 'list_actions', agent_id: agentOf(t) }),
    },
    approve_action: {
      twin: 'POST /v1/actions/:id/approve',
      scope: 'actions:approve',
      success: 'action',
      targeted: true,
      message: async (w, t) => ({ type: 'approve_action', action_id: await idOf(t, (s) => w.action(s)) }),
    },
    reject_action: {
      twin: 'POST /v1/actions/:id/reject',
      scope: 'actions:approve',
      success: 'action',
      targeted: true,
      message: async (w, t) => ({
        type: 'reject_action',
        action_id: await idOf(t, (s) => w.action(s)),
        reason: 'not now',
      }),
    },
    // A device answers its own commands only (its e2e spec shows that success). The command named here
    // is another device's, so every device gets not_found on A as on B and a missing id, and a user or
    // an agent is refused whatever it names.
    'cmd.result': {
      twin: null,
      scope: null,
      success: 'cmd.result_ok',
      targeted: true,
      message: async (w, t) => ({
        type: 'cmd.result',
        command_id: await idOf(t, async (s) => (await w.command(s)).commandId),
        ok: true,
        result: {},
      }),
      expectOwn: (caller) => (caller.type ? '=foreign' : `error ${ErrorCode.Unauthenticated}`),
    },
  } satisfies Record<ClientMessageType, VerbSpec>;

  /** A socket that said hello as `caller` (a caller whose credential is refused stays unauthenticated). */
  async function socketAs(caller: Caller): Promise<HubSocket> {
    const socket = await HubSocket.open(hub.base);
    const token = await caller.token();
    const hello = await socket.request(token === null ? { type: 'hello' } : { type: 'hello', token });
    if ((hello.type === 'hello_ok') !== (caller.type !== null)) {
      throw new Error(`hello as ${caller.kind} answered ${JSON.stringify(hello)}`);
    }
    return socket;
  }

  it('declares each WebSocket verb with the same scope as its REST twin', () => {
    const mismatched = Object.entries(VERBS as Record<string, VerbSpec>)
      .filter(([, verb]) => verb.twin !== null)
      .map(([name, verb]) => {
        const route = table.find((r) => r.key === verb.twin);
        const declared = route?.access.kind === 'scope' ? route.access.scope : route?.access.kind;
        return { name, twin: verb.twin, declared, scope: verb.scope };
      })
      // A twin that checks its scopes in the service (no declared scope) is held to the matrix above.
      .filter((v) => v.declared !== v.scope && v.declared !== 'authenticated');
    expect(mismatched).toEqual([]);
  });

  it('answers every WebSocket verb × caller as its REST twin does, B like a missing id, and nothing of another agent', async () => {
    const failures: string[] = [];
    const seen = { cases: 0, allowed: 0, denied: 0 };
    for (const [name, verb] of Object.entries(VERBS as Record<string, VerbSpec>)) {
      if (name === 'hello') {
        continue; // every caller's hello is the next test
      }
      const world = await new World().build();
      for (const caller of world.callers(verb.scope)) {
        const label = `${name} as ${caller.kind}`;
        const socket = await socketAs(caller);
        try {
          const replies: Array<{ message: Record<string, unknown>; reply: Record<string, any> }> = [];
          const ask = async (target: Target): Promise<string> => {
            const message = await verb.message(world, target);
            const reply = await socket.request(message);
            replies.push({ message, reply });
            if (outcomeOf(reply) === `error ${ErrorCode.Internal}`) {
              failures.push(`${label}: an internal error ${JSON.stringify(reply)}`);
            }
            return outcomeOf(reply);
          };

          let foreign: string | null = null;
          if (verb.targeted) {
            foreign = await ask({ side: world.b });
            const missing = await ask({ missing: true });
            seen.cases += 2;
            if (foreign !== missing) {
              failures.push(`${label}: B's resource answered ${foreign}, a missing id ${missing}`);
            }
            if (foreign === verb.success && name !== 'unsubscribe') {
              failures.push(`${label} succeeded on agent B's resource`);
            }
          }

          const own = await ask({ side: world.a });
          seen.cases += 1;
          let expected: string;
          if (verb.twin) {
            const spec = ROUTES[verb.twin];
            if (!spec) {
              failures.push(`${name}: its twin ${verb.twin} is not in the route matrix`);
              continue;
            }
            // The twin answers the same caller (a fresh agent assertion, a fresh action) on agent A.
            expected = restOutcome(
              await send(await spec.request(world, { side: world.a }, caller), await caller.token()),
              verb.success,
            );
            if (verb.targeted) {
              const twinForeign = restOutcome(
                await send(await spec.request(world, { side: world.b }, caller), await caller.token()),
                verb.success,
              );
              if (foreign !== twinForeign) {
                failures.push(`${label} on B's resource: ${foreign}, its REST twin ${twinForeign}`);
              }
            }
          } else {
            const pinned = verb.expectOwn!(caller);
            expected = pinned === '=foreign' ? (foreign as string) : pinned;
          }
          if (own === verb.success) {
            seen.allowed += 1;
          } else {
            seen.denied += 1;
          }
          if (own !== expected) {
            failures.push(
              `${label}: expected ${expected}, got ${own} ${JSON.stringify(replies.at(-1)?.reply).slice(0, 200)}`,
            );
          }
          for (const { message, reply } of replies) {
            const leaked = leakedIds(world, { method: 'WS', url: '', body: message }, JSON.stringify(reply));
            if (leaked.length > 0) {
              failures.push(`${label} leaked ${leaked.join(', ')} of agent B`);
            }
          }
          // Nothing unsolicited (a stream entry, presence) may carry B's ids either.
          const leaked = leakedIds(world, { method: 'WS', url: '' }, JSON.stringify(socket.received));
          const named = replies.map((r) => JSON.stringify(r.message)).join(' ');
          const unasked = leaked.filter((id) => !named.includes(id));
          if (unasked.length > 0) {
            failures.push(`${label}: the socket received ${unasked.join(', ')} of agent B`);
          }
        } finally {
          await socket.close();
        }
      }
    }
    expect(failures).toEqual([]);
    expect(seen.allowed).toBeGreaterThan(30);
    expect(seen.denied).toBeGreaterThan(60);
  }, 600_000);

  describe('over the WebSocket, by name', () => {
    let world: World;
    beforeAll(async () => {
      world = await new World().build();
    });

    const actionStatus = async (actionId: string): Promise<string> =>
      (
        await hub.kysely
          .selectFrom('actions')
          .select('status')
          .where('action_id', '=', asUuid(actionId))
          .executeTakeFirstOrThrow()
      ).status;

    it("a device of agent A with every scope cannot subscribe to agent B or approve B's action", async () => {
      const device = await world.device(world.a, [...ALL_SCOPES]);
      const socket = await HubSocket.open(hub.base, device.token);
      const foreignAction = await world.action(world.b);
      const missing = randomUUID();
      const subscribeB = await socket.request({ type: 'subscribe', agent_id: world.b.agentId });
      const subscribeMissing = await socket.request({ type: 'subscribe', agent_id: missing });
      expect(subscribeB).toMatchObject({ type: 'error', error: { code: ErrorCode.NotFound } });
      expect(subscribeB.error).toEqual({ ...subscribeMissing.error, message: expect.any(String) });
      expect(await socket.request({ type: 'approve_action', action_id: foreignAction })).toMatchObject({
        type: 'error',
        error: { code: expect.stringMatching(/^(forbidden|not_found)$/) },
      });
      expect(await actionStatus(foreignAction)).toBe('proposed');
      await socket.close();
    });

    it('a device without actions:read cannot list_actions', async () => {
      const device = await world.device(
        world.a,
        ALL_SCOPES.filter((s) => s !== 'actions:read'),
      );
      const socket = await HubSocket.open(hub.base, device.token);
      expect(await socket.request({ type: 'list_actions', agent_id: world.a.agentId })).toMatchObject({
        type: 'error',
        error: { code: ErrorCode.Forbidden },
      });
      await socket.close();
    });

    it('a guest cannot approve or reject', async () => {
      const action = await world.action(world.a);
      const socket = await HubSocket.open(hub.base, world.users.guest.token);
      for (const type of ['approve_action', 'reject_action']) {
        expect(await socket.request({ type, action_id: action })).toMatchObject({
          type: 'error',
          error: { code: ErrorCode.Forbidden },
        });
      }
      expect(await actionStatus(action)).toBe('proposed');
      await socket.close();
    });

    it("a revoked device's live, subscribed socket is closed with 4401", async () => {
      const device = await world.device(world.a, [...ALL_SCOPES]);
      const socket = await HubSocket.open(hub.base, device.token);
      expect(await socket.request({ type: 'subscribe', agent_id: world.a.agentId })).toMatchObject({
        type: 'subscribed',
      });
      await must({ method: 'POST', url: `/v1/devices/${device.id}/revoke` }, world.a.ownerToken, 200);
      expect((await socket.closed()).code).toBe(WsCloseCode.Unauthenticated);
    });
  });

  /** Ids of agent B in a response that the request itself did not name. */
  function leakedIds(world: World, request: Request, responseText: string): string[] {
    const asked = `${request.url} ${JSON.stringify(request.body ?? null)}`;
    return [...world.foreignIds].filter((id) => responseText.includes(id) && !asked.includes(id));
  }
});
