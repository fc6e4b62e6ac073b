import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type KeyLike } from 'jose';
import { sql, type Kysely } from 'kysely';
import { KYSELY, type Database } from '@marvain/db';
import { createTestDatabase, type TestDatabase } from '@marvain/db/testing';
import { AGENT_ASSERTION_AUDIENCE, BootstrapService, type BootstrapResult } from '@marvain/identity';
import type { HubConfig, LogDestination, LogLevel } from '@marvain/platform';
import { testHubConfig } from '@marvain/platform/testing';
import { createHubApp } from '../setup';

/** A response as the e2e specs inspect it; `json` is whatever the hub sent, parsed. */
export interface HttpReply {
  status: number;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- specs read replies field by field
  json: any;
}

/**
 * The whole hub on a fresh database, listening on a free loopback port: what every e2e spec
 * talks to over real HTTP.
 */
export interface HubTestServer {
  app: NestFastifyApplication;
  db: TestDatabase;
  config: HubConfig;
  base: string;
  kysely: Kysely<Database>;
  /**
   * One request. An object body is sent as JSON; a string body is sent as it is (with a JSON
   * content type), for malformed-JSON cases.
   */
  call(
    method: string,
    url: string,
    token: string | null,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<HttpReply>;
  /** An owner with an agent, a space and a device, as first-run bootstrap makes them. */
  bootstrap(agentName?: string, spaceName?: string): Promise<BootstrapResult>;
  /** The audit actions recorded for an agent, oldest first. */
  auditActions(agentId: string): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * A hub with its workers on (polling fast) whose JSON log lines land in `lines`, for specs that
 * read what the hub logs.
 */
export function openLoggedHubTestServer(logLevel: LogLevel, lines: string[]): Promise<HubTestServer> {
  return openHubTestServer({
    config: testHubConfig({
      logLevel,
      logFormat: 'json',
      workers: true,
      queue: { visibilityTimeoutSeconds: 30, maxReceives: 5, pollIntervalMs: 100 },
    }),
    logDestination: { write: (line: string) => lines.push(line) },
  });
}

export async function openHubTestServer(
  options: {
    config?: HubConfig;
    localControlSecret?: string;
    beforeListen?: (app: NestFastifyApplication) => void;
    logDestination?: LogDestination;
  } = {},
): Promise<HubTestServer> {
  const db = await createTestDatabase();
  const config = options.config ?? testHubConfig();
  const app = await createHubApp(config, {
    databaseHandle: db,
    ...(options.localControlSecret ? { localControlSecret: options.localControlSecret } : {}),
    ...(options.logDestination ? { logDestination: options.logDestination } : {}),
  });
  options.beforeListen?.(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  const kysely = app.get<Kysely<Database>>(KYSELY);

  return {
    app,
    db,
    config,
    base,
    kysely,
    async call(method, url, token, body, headers = {}) {
      const response = await fetch(`${base}${url}`, {
        method,
        headers: {
          ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await response.text();
      let json: unknown = null;
      try {
        json = text ? (JSON.parse(text) as unknown) : null;
      } catch {
        json = null; // not JSON: the spec looks at `text`
      }
      return { status: response.status, text, json };
    },
    bootstrap: (agentName = 'Forge', spaceName = 'home') =>
      app.get(BootstrapService).bootstrap({ agentName, spaceName }),
    async auditActions(agentId) {
      const rows = await sql<{
        body: string;
      }>`SELECT body FROM audit_entries WHERE agent_id = ${agentId}::uuid ORDER BY seq`.execute(kysely);
      return rows.rows.map((r) => (JSON.parse(r.body) as { action: string }).action);
    },
    async close() {
      try {
        await app.close();
      } finally {
        await db.close();
      }
    },
  };
}

export interface AgentKey {
  alg: 'EdDSA' | 'ES256';
  privateKey: KeyLike;
  publicJwk: JWK;
}

export async function newAgentKey(alg: 'EdDSA' | 'ES256' = 'EdDSA'): Promise<AgentKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    crv: alg === 'EdDSA' ? 'Ed25519' : 'P-256',
    extractable: true,
  });
  return { alg, privateKey, publicJwk: await exportJWK(publicKey) };
}

/** An assertion as an agent would mint it; `overrides` bend one rule at a time. */
export function signAgentAssertion(
  agentId: string,
  key: Pick<AgentKey, 'privateKey'> & { alg?: AgentKey['alg'] },
  overrides: { lifetime?: number; issuedAgo?: number; audience?: string; jti?: string; subject?: string } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000) - (overrides.issuedAgo ?? 0);
  return new SignJWT({})
    .setProtectedHeader({ alg: key.alg ?? 'EdDSA' })
    .setIssuer(agentId)
    .setSubject(overrides.subject ?? agentId)
    .setAudience(overrides.audience ?? AGENT_ASSERTION_AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + (overrides.lifetime ?? 120))
    .setJti(overrides.jti ?? randomUUID())
    .sign(key.privateKey);
}
