import { ErrorCode, type Principal } from '@marvain/contracts';
import { TransactionRunner } from '@marvain/db';
import { testDatabaseKind } from '@marvain/db/testing';
import {
  auditEntries,
  insertAgents,
  openFeatureTestContext,
  refused,
  type AuditEntryBody,
  type FeatureTestContext,
} from '@marvain/platform/testing';
import { SpacesModule } from './spaces.module';
import { SPACE_NAME_TAKEN, SpacesService } from './spaces.service';

describe(`SpacesService (${testDatabaseKind()})`, () => {
  let context: FeatureTestContext;
  let spaces: SpacesService;
  let agentA: string;
  let agentB: string;

  beforeAll(async () => {
    context = await openFeatureTestContext([SpacesModule]);
    spaces = context.moduleRef.get(SpacesService);
    [agentA, agentB] = await insertAgents(context.db.db, ['a', 'b']);
  });
  afterAll(() => context.close());

  it('creates a space once per agent and name, returning the existing one after that', async () => {
    const transactions = context.moduleRef.get(TransactionRunner);
    const first = await transactions.run((tx) => spaces.ensure(tx, agentA, 'home'));
    const again = await transactions.run((tx) => spaces.ensure(tx, agentA, 'home'));
    const other = await transactions.run((tx) => spaces.ensure(tx, agentB, 'home'));
    expect(first.created).toBe(true);
    expect(again).toEqual({ space: first.space, created: false });
    expect(other.created).toBe(true);
    expect(other.space.space_id).not.toBe(first.space.space_id);
  });

  const owner = (agentId: string): Principal => ({
    type: 'user',
    id: '11111111-1111-4111-8111-111111111111',
    agents: [{ agent_id: agentId, scopes: ['spaces:read', 'spaces:manage'] }],
  });

  const agentAudit = (agentId: string): Promise<AuditEntryBody[]> => auditEntries(context.db.db, { agentId });

  it('creates spaces with an audited privacy mode, lists them, and refuses a duplicate name with 409 space_name_taken', async () => {
    const created = await spaces.create(owner(agentA), agentA, { name: 'office', privacy_mode: true });
    expect(created).toMatchObject({ agent_id: agentA, name: 'office', privacy_mode: true });
    const plain = await spaces.create(owner(agentA), agentA, { name: 'hall' });
    expect(plain.privacy_mode).toBe(false);

    const duplicate = await refused(spaces.create(owner(agentA), agentA, { name: 'office' }));
    expect(duplicate).toMatchObject({ code: ErrorCode.Conflict, details: { reason: SPACE_NAME_TAKEN, field: 'name' } });
    // Another agent may use the same name.
    await expect(spaces.create(owner(agentB), agentB, { name: 'office' })).resolves.toMatchObject({ agent_id: agentB });

    const listed = (await spaces.list(owner(agentA), agentA)).spaces;
    expect(listed.map((s) => s.name)).toEqual(expect.arrayContaining(['home', 'office', 'hall']));
    expect(listed.every((s) => s.agent_id === agentA)).toBe(true);
    expect((await agentAudit(agentA)).filter((e) => e.action === 'space.created').map((e) => e.details)).toEqual(
      expect.arrayContaining([
        { name: 'office', privacy_mode: true },
        { name: 'hall', privacy_mode: false },
      ]),
    );
  });

  it('audits each privacy mode change once, with the value it replaced, and nothing for a no-op or a rename', async () => {
    const space = await spaces.create(owner(agentA), agentA, { name: 'study' });
    const before = (await agentAudit(agentA)).length;
    await expect(spaces.update(owner(agentA), space.space_id, { privacy_mode: true })).resolves.toMatchObject({
      privacy_mode: true,
      name: 'study',
    });
    await expect(spaces.update(owner(agentA), space.space_id, { privacy_mode: true })).resolves.toMatchObject({
      privacy_mode: true,
    });
    const renamed = await spaces.update(owner(agentA), space.space_id, { name: 'library' });
    expect(renamed).toMatchObject({ name: 'library', privacy_mode: true });
    expect(Date.parse(renamed.updated_at)).toBeGreaterThanOrEqual(Date.parse(space.updated_at));
    await spaces.update(owner(agentA), space.space_id, { privacy_mode: false });
    await expect(spaces.update(owner(agentA), space.space_id, {})).resolves.toMatchObject({
      name: 'library',
      privacy_mode: false,
    });

    const added = (await agentAudit(agentA)).slice(before);
    expect(added.map((e) => [e.action, e.subject?.id, e.details])).toEqual([
      ['space.privacy_mode_changed', space.space_id, { privacy_mode: true, previous: false }],
      ['space.privacy_mode_changed', space.space_id, { privacy_mode: false, previous: true }],
    ]);
  });

  it('refuses a rename onto a taken name with 409, changing nothing (not even the privacy mode sent with it)', async () => {
    const space = await spaces.create(owner(agentA), agentA, { name: 'attic' });
    const rename = await refused(spaces.update(owner(agentA), space.space_id, { name: 'hall', privacy_mode: true }));
    expect(rename).toMatchObject({ code: ErrorCode.Conflict, details: { reason: SPACE_NAME_TAKEN } });
    await expect(spaces.getForPrincipal(owner(agentA), space.space_id, 'spaces:read')).resolves.toMatchObject({
      name: 'attic',
      privacy_mode: false,
    });
    expect(
      (await agentAudit(agentA)).filter(
        (e) => e.subject?.id === space.space_id && e.action === 'space.privacy_mode_changed',
      ),
    ).toEqual([]);
  });

  it('lets exactly one of two simultaneous creates or renames to one name win; the other gets 409', async () => {
    const creates = await Promise.allSettled([
      spaces.create(owner(agentA), agentA, { name: 'race' }),
      spaces.create(owner(agentA), agentA, { name: 'race' }),
    ]);
    expect(creates.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(creates.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: ErrorCode.Conflict } });

    const [x, y] = await Promise.all([
      spaces.create(owner(agentA), agentA, { name: 'x' }),
      spaces.create(owner(agentA), agentA, { name: 'y' }),
    ]);
    const renames = await Promise.allSettled([
      spaces.update(owner(agentA), x.space_id, { name: 'race-2' }),
      spaces.update(owner(agentA), y.space_id, { name: 'race-2' }),
    ]);
    expect(renames.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(renames.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: ErrorCode.Conflict } });
  });

  it("answers create, list and update on another agent's spaces exactly like missing ones; a read-only member gets 403", async () => {
    const space = await spaces.create(owner(agentB), agentB, { name: 'cellar' });
    const missingId = '00000000-0000-4000-8000-000000000000';
    const outsider = owner(agentA);
    const foreignUpdate = await refused(spaces.update(outsider, space.space_id, { privacy_mode: true }));
    const missingUpdate = await refused(spaces.update(outsider, missingId, { privacy_mode: true }));
    expect(foreignUpdate.code).toBe(ErrorCode.NotFound);
    expect(foreignUpdate.message).toBe(missingUpdate.message.replace(missingId, space.space_id));
    const foreignList = await refused(spaces.list(outsider, agentB));
    const missingList = await refused(spaces.list(outsider, missingId));
    expect(foreignList.message).toBe(missingList.message.replace(missingId, agentB));
    expect((await refused(spaces.create(outsider, agentB, { name: 'mine now' }))).code).toBe(ErrorCode.NotFound);
    await expect(spaces.getForPrincipal(owner(agentB), space.space_id, 'spaces:read')).resolves.toMatchObject({
      privacy_mode: false,
    });

    const reader: Principal = { type: 'user', id: 'r', agents: [{ agent_id: agentB, scopes: ['spaces:read'] }] };
    expect((await refused(spaces.update(reader, space.space_id, { privacy_mode: true }))).code).toBe(
      ErrorCode.Forbidden,
    );
    expect((await refused(spaces.create(reader, agentB, { name: 'new' }))).code).toBe(ErrorCode.Forbidden);
  });

  it("answers another agent's space exactly like a missing one, and a missing scope with forbidden", async () => {
    const transactions = context.moduleRef.get(TransactionRunner);
    const { space } = await transactions.run((tx) => spaces.ensure(tx, agentB, 'garage'));
    const outsider: Principal = { type: 'user', id: 'u', agents: [{ agent_id: agentA, scopes: ['events:write'] }] };
    const missing = await refused(
      spaces.getForPrincipal(outsider, '00000000-0000-4000-8000-000000000000', 'events:write'),
    );
    const foreign = await refused(spaces.getForPrincipal(outsider, space.space_id, 'events:write'));
    expect(foreign.code).toBe(ErrorCode.NotFound);
    expect(foreign.message).toBe(missing.message.replace('00000000-0000-4000-8000-000000000000', space.space_id));
    expect(foreign.message).not.toContain(agentB);

    const reader: Principal = { type: 'device', id: 'd', agents: [{ agent_id: agentB, scopes: ['spaces:read'] }] };
    expect((await refused(spaces.getForPrincipal(reader, space.space_id, 'events:write'))).code).toBe(
      ErrorCode.Forbidden,
    );
    await expect(spaces.getForPrincipal(reader, space.space_id, 'spaces:read')).resolves.toMatchObject({
      space_id: space.space_id,
      agent_id: agentB,
    });
  });
});
