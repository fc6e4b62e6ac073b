// The baseline for `npm run bench:ingest`: a bare Fastify server doing the database work of
// POST /v1/events and nothing else: no Nest, no auth guard, no class-validator, no space lookup.
// It is bundled by run-ingest.mjs (esbuild) so it uses the hub's own driver stack from libs/db:
// openDatabase() (Kysely PostgresDialect over a pg Pool of 10, or over the PGlite pool adapter),
// migrate(), and the asUuid/asJson casts, with the same INSERT ... ON CONFLICT statements as
// EventsRepository.insertIfAbsent and TableQueue.send, in one Kysely transaction.
//
// Configured by environment (set by run-ingest.mjs):
//   BARE_PORT        port to listen on (127.0.0.1)
//   BARE_DB          "pglite:<dir>" or a postgres:// URL
//   BARE_MIGRATIONS  the migrations folder
//   BARE_READS=1     also do the hub's authentication read before the transaction (device token -> device row,
//                    as DevicesRepository.findCredential), still without Nest, guards or class-validator:
//                    separates "more queries" from "framework" (the hub checks the space inside its insert)
// Prints one line `READY {"port":…,"space_id":…,"agent_id":…}` on stdout when it accepts requests.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { sql } from 'kysely';
import { v5 as uuidv5 } from 'uuid';
import { asJson, asUuid, loadMigrations, migrate, openDatabase } from '@marvain/db';

// The hub's UUIDv5 namespace (libs/platform/src/ports.ts), so event ids cost the same to make.
const MARVAIN_ID_NAMESPACE = '6f1c7a52-8b0e-4c55-9a0d-2f6b8d1e3c47';
const BODY_LIMIT_BYTES = 256 * 1024; // apps/hub/src/setup.ts
const TYPE_PATTERN = /^[a-z][a-z0-9_.-]*$/;

async function main() {
  const port = Number(process.env.BARE_PORT);
  const dbSpec = process.env.BARE_DB ?? '';
  const target = dbSpec.startsWith('pglite:')
    ? { kind: 'pglite', dataDir: dbSpec.slice('pglite:'.length) }
    : { kind: 'postgres', url: dbSpec };
  const handle = await openDatabase(target);
  const { db } = handle;
  await migrate(db, loadMigrations(process.env.BARE_MIGRATIONS));

  // Its own agent and space to insert against; the "device" is a fixed id (source_id has no foreign key).
  const agent = await sql`INSERT INTO agents (name) VALUES ('bench-bare') RETURNING agent_id`.execute(db);
  const agentId = agent.rows[0].agent_id;
  const space =
    await sql`INSERT INTO spaces (agent_id, name) VALUES (${agentId}::uuid, 'bench') RETURNING space_id`.execute(db);
  const spaceId = space.rows[0].space_id;
  const sourceId = randomUUID();
  const withReads = process.env.BARE_READS === '1';
  const deviceToken = `mvd_${randomBytes(32).toString('base64url')}`;
  const sha256 = (text) => createHash('sha256').update(text, 'utf8').digest('hex');
  if (withReads) {
    await sql`INSERT INTO devices (device_id, agent_id, name, token_hash, scopes)
      VALUES (${sourceId}::uuid, ${agentId}::uuid, 'bench', ${sha256(deviceToken)}, '["events:write"]'::jsonb)`.execute(
      db,
    );
  }

  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT_BYTES });
  app.post('/v1/events', async (request, reply) => {
    const body = request.body;
    // The minimum a handler must check before using the fields; nothing like the hub's DTO validation.
    if (
      body === null ||
      typeof body !== 'object' ||
      typeof body.space_id !== 'string' ||
      typeof body.type !== 'string' ||
      !TYPE_PATTERN.test(body.type) ||
      body.payload === null ||
      typeof body.payload !== 'object' ||
      (body.client_event_id !== undefined && typeof body.client_event_id !== 'string')
    ) {
      return reply.code(400).send({ error: 'bad request' });
    }
    if (withReads) {
      const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
      const hash = match ? sha256(match[1]) : '';
      const device = await db
        .selectFrom('devices as d')
        .innerJoin('agents as a', 'a.agent_id', 'd.agent_id')
        .select([
          'd.device_id',
          'd.agent_id',
          'd.token_hash',
          'd.scopes',
          sql`d.revoked_at IS NOT NULL`.as('revoked'),
          'a.disabled as agent_disabled',
        ])
        .where('d.token_hash', '=', hash)
        .executeTakeFirst();
      if (!device || device.revoked || device.agent_disabled) {
        return reply.code(401).send({ error: 'unauthenticated' });
      }
    }
    const clientEventId = body.client_event_id ?? null;
    const eventId = clientEventId
      ? uuidv5(`event:${agentId}:device:${sourceId}:${clientEventId}`, MARVAIN_ID_NAMESPACE)
      : randomUUID();
    await db.transaction().execute(async (trx) => {
      // EventsRepository.insertIfAbsent
      const result = await trx
        .insertInto('events')
        .values({
          event_id: asUuid(eventId),
          agent_id: asUuid(agentId),
          space_id: asUuid(body.space_id),
          source_type: 'device',
          source_id: asUuid(sourceId),
          type: body.type,
          payload: asJson(body.payload),
          client_event_id: clientEventId,
        })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      if (Number(result.numInsertedOrUpdatedRows ?? 0n) > 0) {
        // TableQueue.send
        await trx
          .insertInto('queue_messages')
          .values({
            queue: 'transcripts',
            body: asJson({ event_id: eventId, agent_id: agentId }),
            dedup_key: `event:${eventId}`,
            visible_at: sql`now() + make_interval(secs => ${0}::int)`,
          })
          .onConflict((oc) => oc.columns(['queue', 'dedup_key']).where('dedup_key', 'is not', null).doNothing())
          .execute();
      }
    });
    return reply.code(202).send({ event_id: eventId });
  });

  let stopping = false;
  const stop = async () => {
    if (stopping) {
      return;
    }
    stopping = true;
    await app.close().catch(() => undefined);
    await handle.close().catch(() => undefined);
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());

  await app.listen({ port, host: '127.0.0.1' });
  process.stdout.write(
    `READY ${JSON.stringify({ port, space_id: spaceId, agent_id: agentId, ...(withReads ? { device_token: deviceToken } : {}) })}\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`bare server failed: ${error?.stack ?? error}\n`);
  process.exit(1);
});
