// The baseline for `npm run bench:coldstart`: a bare Fastify app behind @fastify/aws-lambda,
// answering the two requests the benchmark sends the hub's http entry, with the same database
// work and nothing else: no Nest, no guards, no class-validator, no Swagger.
//   GET /v1/health   the schema version and whether pgvector is installed (the hub reads these
//                    once, when its application starts)
//   GET /v1/actions  the device-token read (as DevicesRepository.findCredential), then the
//                    agent's actions (as ActionsRepository.list)
// coldstart.mjs bundles it like the Lambda entries (everything in, minified) to
// dist/bench/coldstart-bare/index.js; it reads DATABASE_URL, as the hub does.
import { createHash } from 'node:crypto';
import awsLambdaFastify from '@fastify/aws-lambda';
import Fastify from 'fastify';
import { sql } from 'kysely';
import { asUuid } from '../../libs/db/src/casts';
import { openDatabase } from '../../libs/db/src/database';

const ACTION_COLUMNS = [
  'action_id',
  'agent_id',
  'space_id',
  'kind',
  'payload',
  'required_scopes',
  'status',
  'reason',
  'source_event_id',
  'approved_by',
  'approved_at',
  'rejected_by',
  'rejected_at',
  'result',
  'error',
  'completed_at',
  'created_at',
  'updated_at',
];

let database = null;
const db = async () =>
  (database ??= openDatabase({ kind: 'postgres', url: process.env.DATABASE_URL ?? '' })).then((handle) => handle.db);

const app = Fastify({ logger: false });

app.get('/v1/health', async () => {
  const kysely = await db();
  const version = await kysely
    .selectFrom('schema_migrations')
    .select((eb) => eb.fn.max('version').as('version'))
    .executeTakeFirst();
  const vector = await sql`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') AS available`.execute(
    kysely,
  );
  return {
    status: 'ok',
    database: {
      kind: 'postgres',
      schema_version: version?.version ?? null,
      vector: vector.rows[0]?.available === true,
    },
  };
});

app.get('/v1/actions', async (request, reply) => {
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  const kysely = await db();
  const device = match
    ? await kysely
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
        .where('d.token_hash', '=', createHash('sha256').update(match[1], 'utf8').digest('hex'))
        .executeTakeFirst()
    : undefined;
  if (!device || device.revoked || device.agent_disabled) {
    return reply.code(401).send({ error: 'unauthenticated' });
  }
  const agentId = request.query.agent_id;
  if (agentId !== device.agent_id) {
    return reply.code(404).send({ error: 'not_found' });
  }
  const actions = await kysely
    .selectFrom('actions')
    .select(ACTION_COLUMNS)
    .where('agent_id', '=', asUuid(agentId))
    .orderBy('created_at', 'desc')
    .limit(50)
    .execute();
  return { actions };
});

export const handler = awsLambdaFastify(app);
