import { Injectable } from '@nestjs/common';
import { sql, type Kysely, type Selectable } from 'kysely';
import {
  asTimestamp,
  asUuid,
  InjectKysely,
  keysetPage,
  type ConsentGrantsTable,
  type Database,
  type Executor,
  type Page,
  type PageRequest,
} from '@marvain/db';

export type ConsentGrantRow = Selectable<ConsentGrantsTable>;

const CONSENT_COLUMNS = [
  'consent_id',
  'agent_id',
  'person_id',
  'consent_type',
  'granted_at',
  'expires_at',
  'revoked_at',
] as const;

@Injectable()
export class ConsentRepository {
  constructor(@InjectKysely() private readonly db: Kysely<Database>) {}

  async insert(
    grant: {
      consent_id: string;
      agent_id: string;
      person_id: string;
      consent_type: string;
      granted_at: Date;
      expires_at: Date | null;
    },
    executor: Executor = this.db,
  ): Promise<ConsentGrantRow> {
    return executor
      .insertInto('consent_grants')
      .values({
        consent_id: asUuid(grant.consent_id),
        agent_id: asUuid(grant.agent_id),
        person_id: asUuid(grant.person_id),
        consent_type: grant.consent_type,
        granted_at: asTimestamp(grant.granted_at),
        expires_at: grant.expires_at ? asTimestamp(grant.expires_at) : null,
      })
      .returning(CONSENT_COLUMNS)
      .executeTakeFirstOrThrow();
  }

  /** Ends the person's grants of this type that are still in force at `now` (neither revoked nor expired). */
  async revokeInForce(
    personId: string,
    consentType: string,
    now: Date,
    executor: Executor = this.db,
  ): Promise<ConsentGrantRow[]> {
    return executor
      .updateTable('consent_grants')
      .set({ revoked_at: asTimestamp(now) })
      .where('person_id', '=', asUuid(personId))
      .where('consent_type', '=', consentType)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', asTimestamp(now))]))
      .returning(CONSENT_COLUMNS)
      .execute();
  }

  /** Revokes one grant unless it already is; undefined when nothing changed. */
  async revoke(consentId: string, now: Date, executor: Executor = this.db): Promise<ConsentGrantRow | undefined> {
    return executor
      .updateTable('consent_grants')
      .set({ revoked_at: asTimestamp(now) })
      .where('consent_id', '=', asUuid(consentId))
      .where('revoked_at', 'is', null)
      .returning(CONSENT_COLUMNS)
      .executeTakeFirst();
  }

  async findById(
    consentId: string,
    executor: Executor = this.db,
    options: { forUpdate?: boolean } = {},
  ): Promise<ConsentGrantRow | undefined> {
    const query = executor
      .selectFrom('consent_grants')
      .select(CONSENT_COLUMNS)
      .where('consent_id', '=', asUuid(consentId));
    return (options.forUpdate ? query.forUpdate() : query).executeTakeFirst();
  }

  /**
   * One page of the person's grants, newest first (ties by id), ended ones included. The status
   * filter is applied here, in the query, so that every page is full and the cursor stays exact;
   * it mirrors consentStatus (revoked wins over expired) as of `now`.
   */
  async listByPerson(
    personId: string,
    filter: { consent_type?: string | undefined; status?: 'active' | 'expired' | 'revoked' | undefined; now: Date },
    page: PageRequest,
    executor: Executor = this.db,
  ): Promise<Page<ConsentGrantRow>> {
    let query = executor.selectFrom('consent_grants').select(CONSENT_COLUMNS).where('person_id', '=', asUuid(personId));
    if (filter.consent_type !== undefined) {
      query = query.where('consent_type', '=', filter.consent_type);
    }
    const now = asTimestamp(filter.now);
    if (filter.status === 'revoked') {
      query = query.where('revoked_at', 'is not', null);
    }
    if (filter.status === 'expired') {
      query = query.where('revoked_at', 'is', null).where(sql<boolean>`expires_at <= ${now}`);
    }
    if (filter.status === 'active') {
      query = query.where('revoked_at', 'is', null).where(sql<boolean>`(expires_at IS NULL OR expires_at > ${now})`);
    }
    return keysetPage(query, { at: 'granted_at', id: 'consent_id', direction: 'desc' }, page);
  }
}
