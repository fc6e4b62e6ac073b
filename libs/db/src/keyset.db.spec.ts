import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { asUuid } from './casts';
import { keysetPage, type PageKey, type PageOrder } from './keyset';
import { createTestDatabase, testDatabaseKind, type TestDatabase } from './testing';

/*
 * The one keyset mechanism every list uses, walked page by page over rows whose timestamps tie
 * (equal to the microsecond) or differ by less than a millisecond (which a JS Date cannot tell
 * apart): every row must come exactly once, in the list's order, whatever the page size.
 */

interface Row {
  person_id: string;
  created_at: string;
}

// Three rows tie exactly, two differ only below the millisecond, the rest are plainly apart.
const TIMESTAMPS = [
  '2026-01-01T00:00:00.000000Z',
  '2026-01-01T00:00:01.000000Z',
  '2026-01-01T00:00:01.000000Z',
  '2026-01-01T00:00:01.000000Z',
  '2026-01-01T00:00:02.000100Z',
  '2026-01-01T00:00:02.000900Z',
  '2026-01-01T00:00:03.000000Z',
  '2026-01-01T00:00:03.000000Z',
  '2026-01-01T00:00:04.000000Z',
];

describe(`keyset pagination (${testDatabaseKind()})`, () => {
  let handle: TestDatabase;
  let agentId: string;
  let otherAgentId: string;
  let rows: Row[];

  const insertAgent = async (): Promise<string> =>
    (await sql<{ agent_id: string }>`INSERT INTO agents (name) VALUES ('pages') RETURNING agent_id`.execute(handle.db))
      .rows[0]!.agent_id;

  const insertPerson = async (agent: string, createdAt: string): Promise<Row> => {
    const personId = randomUUID();
    await sql`INSERT INTO people (person_id, agent_id, display_name, created_at) VALUES (${personId}::uuid, ${agent}::uuid, 'p', ${createdAt}::timestamptz)`.execute(
      handle.db,
    );
    return { person_id: personId, created_at: createdAt };
  };

  const ORDER: Record<'asc' | 'desc', PageOrder> = {
    asc: { at: 'created_at', id: 'person_id', direction: 'asc' },
    desc: { at: 'created_at', id: 'person_id', direction: 'desc' },
  };

  /** The list's order computed here: by timestamp text (fixed width, so text order is time order), then id. */
  const expectedOrder = (list: Row[], direction: 'asc' | 'desc'): string[] => {
    const sorted = [...list]
      .sort((a, b) => a.created_at.localeCompare(b.created_at) || a.person_id.localeCompare(b.person_id))
      .map((r) => r.person_id);
    return direction === 'asc' ? sorted : sorted.reverse();
  };

  const page = (agent: string, direction: 'asc' | 'desc', limit: number, after: PageKey | null) =>
    keysetPage(
      handle.db.selectFrom('people').select(['person_id', 'agent_id']).where('agent_id', '=', asUuid(agent)),
      ORDER[direction],
      { limit, after },
    );

  /** Every page from the start, following `next` until it is null. */
  const walk = async (
    agent: string,
    direction: 'asc' | 'desc',
    limit: number,
  ): Promise<{ ids: string[]; pages: number }> => {
    const ids: string[] = [];
    let after: PageKey | null = null;
    let pages = 0;
    for (;;) {
      const result = await page(agent, direction, limit, after);
      pages += 1;
      expect(result.rows.length).toBeLessThanOrEqual(limit);
      ids.push(...result.rows.map((r) => r.person_id));
      if (!result.next) {
        break;
      }
      expect(result.rows).toHaveLength(limit);
      after = result.next;
      if (pages > 100) {
        throw new Error('the walk does not end');
      }
    }
    return { ids, pages };
  };

  beforeAll(async () => {
    handle = await createTestDatabase();
    agentId = await insertAgent();
    otherAgentId = await insertAgent();
    rows = [];
    for (const at of TIMESTAMPS) {
      rows.push(await insertPerson(agentId, at));
    }
    // Another agent's rows interleave with these in time; no page may ever show one.
    for (const at of TIMESTAMPS.slice(0, 4)) {
      await insertPerson(otherAgentId, at);
    }
  });
  afterAll(() => handle.close());

  it.each([
    ['asc', 1],
    ['asc', 2],
    ['asc', 4],
    ['desc', 1],
    ['desc', 3],
    ['desc', 8],
  ] as const)(
    'walks the list %s, %d a page: every row once, in order, nothing of another agent',
    async (direction, limit) => {
      const { ids, pages } = await walk(agentId, direction, limit);
      expect(ids).toEqual(expectedOrder(rows, direction));
      // The page that ends the list says so itself: no empty page after it.
      expect(pages).toBe(Math.ceil(rows.length / limit));
    },
  );

  it('gives the whole list in one page, with no next key, when it fits', async () => {
    const result = await page(agentId, 'asc', rows.length, null);
    expect(result.rows.map((r) => r.person_id)).toEqual(expectedOrder(rows, 'asc'));
    expect(result.next).toBeNull();
    // The key column used to build the cursor never leaks into the rows.
    expect(Object.keys(result.rows[0]!).sort()).toEqual(['agent_id', 'person_id']);
  });

  it('keys each page by the exact timestamp, finer than a JS Date', async () => {
    const byId = new Map(rows.map((r) => [r.person_id, r.created_at]));
    const first = await page(agentId, 'asc', 5, null);
    const last = first.rows.at(-1)!;
    expect(first.next).toEqual({ at: byId.get(last.person_id), id: last.person_id });
    expect(first.next?.at).toMatch(/\.\d{6}Z$/);
  });

  it('continues after the cursor position when rows are added between pages', async () => {
    const first = await page(agentId, 'asc', 3, null);
    const seen = first.rows.map((r) => r.person_id);
    const before = await insertPerson(agentId, '2025-06-01T00:00:00.000000Z');
    const after = await insertPerson(agentId, '2027-06-01T00:00:00.000000Z');
    const rest: string[] = [];
    let key = first.next;
    while (key) {
      const next = await page(agentId, 'asc', 3, key);
      rest.push(...next.rows.map((r) => r.person_id));
      key = next.next;
    }
    expect([...seen, ...rest]).toEqual(expectedOrder([...rows, after], 'asc'));
    expect(rest).not.toContain(before.person_id);
    await sql`DELETE FROM people WHERE person_id IN (${before.person_id}::uuid, ${after.person_id}::uuid)`.execute(
      handle.db,
    );
  });

  it("keeps a list to its own rows when handed a key taken from another agent's list", async () => {
    const foreign = await page(otherAgentId, 'asc', 1, null);
    const result = await page(agentId, 'asc', 100, foreign.next);
    const own = new Set(rows.map((r) => r.person_id));
    expect(result.rows.length).toBeGreaterThan(0);
    expect(result.rows.every((r) => own.has(r.person_id))).toBe(true);
  });
});
