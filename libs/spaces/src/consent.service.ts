import { Inject, Injectable } from '@nestjs/common';
import { DomainError, type Principal } from '@marvain/contracts';
import { TransactionRunner } from '@marvain/db';
import { AuditService } from '@marvain/audit';
import {
  assertAgentScope,
  CLOCK,
  IDS,
  nextCursor,
  pageRequest,
  type Clock,
  type Ids,
  type ListPageQuery,
} from '@marvain/platform';
import { consentStatus, type ConsentStatus, type ConsentType, type ConsentView } from './consent.dto';
import { ConsentRepository, type ConsentGrantRow } from './consent.repository';
import { PeopleService } from './people.service';
import { fieldError } from '@marvain/platform';

/**
 * Consent grants (voice, face, recording storage) of the people an agent knows. A person has at
 * most one grant of each type in force: a new grant ends the one it replaces (recorded in the
 * audit entry), so revoking "the" voice consent can never leave an older one quietly active.
 */
function toConsentView(row: ConsentGrantRow, now: Date): ConsentView {
  return {
    consent_id: row.consent_id,
    agent_id: row.agent_id,
    person_id: row.person_id,
    consent_type: row.consent_type,
    status: consentStatus(row, now),
    granted_at: row.granted_at.toISOString(),
    expires_at: row.expires_at ? row.expires_at.toISOString() : null,
    revoked_at: row.revoked_at ? row.revoked_at.toISOString() : null,
  };
}

@Injectable()
export class ConsentService {
  constructor(
    private readonly repository: ConsentRepository,
    private readonly people: PeopleService,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(IDS) private readonly ids: Ids,
  ) {}

  async grant(
    principal: Principal,
    personId: string,
    input: { consent_type: ConsentType; expires_at?: string | undefined },
  ): Promise<ConsentView> {
    const now = this.clock.now();
    const expiresAt = input.expires_at === undefined ? null : new Date(input.expires_at);
    if (expiresAt && Number.isNaN(expiresAt.getTime())) {
      throw fieldError('expires_at', 'expires_at must be a valid date-time');
    }
    if (expiresAt && expiresAt.getTime() <= now.getTime()) {
      throw fieldError('expires_at', 'expires_at must be in the future');
    }

    const row = await this.transactions.run(async (tx) => {
      // Locking the person makes concurrent grants for them take turns: one grant in force per type.
      const person = await this.people.getForPrincipal(principal, personId, 'spaces:manage', tx.db, {
        forUpdate: true,
      });
      const replaced = await this.repository.revokeInForce(personId, input.consent_type, now, tx.db);
      const inserted = await this.repository.insert(
        {
          consent_id: this.ids.random(),
          agent_id: person.agent_id,
          person_id: personId,
          consent_type: input.consent_type,
          granted_at: now,
          expires_at: expiresAt,
        },
        tx.db,
      );
      await this.audit.append(tx, {
        agentId: person.agent_id,
        action: 'consent.granted',
        actor: { type: principal.type, id: principal.id },
        subject: { type: 'consent', id: inserted.consent_id },
        details: {
          person_id: personId,
          consent_type: input.consent_type,
          expires_at: expiresAt ? expiresAt.toISOString() : null,
          replaced: replaced.map((r) => r.consent_id),
        },
      });
      return inserted;
    });
    return toConsentView(row, now);
  }

  /** One page of the person's grants, newest first, each with its status (active, expired or revoked). */
  async list(
    principal: Principal,
    personId: string,
    query: ListPageQuery & { consent_type?: ConsentType | undefined; status?: ConsentStatus | undefined } = {},
  ): Promise<{ consents: ConsentView[]; next_cursor: string | null }> {
    await this.people.getForPrincipal(principal, personId, 'spaces:read');
    const now = this.clock.now();
    const page = await this.repository.listByPerson(
      personId,
      { consent_type: query.consent_type, status: query.status, now },
      pageRequest(query),
    );
    return { consents: page.rows.map((row) => toConsentView(row, now)), next_cursor: nextCursor(page) };
  }

  /** Revokes the grant; revoking one that is already revoked changes (and audits) nothing. */
  async revoke(principal: Principal, consentId: string, reason?: string): Promise<ConsentView> {
    const now = this.clock.now();
    const row = await this.transactions.run(async (tx) => {
      const grant = await this.repository.findById(consentId, tx.db, { forUpdate: true });
      if (!grant) {
        throw DomainError.notFound('consent', consentId);
      }
      assertAgentScope(principal, grant.agent_id, 'spaces:manage', { what: 'consent', id: consentId });
      const revoked = await this.repository.revoke(consentId, now, tx.db);
      if (!revoked) {
        return grant;
      }
      await this.audit.append(tx, {
        agentId: grant.agent_id,
        action: 'consent.revoked',
        actor: { type: principal.type, id: principal.id },
        subject: { type: 'consent', id: consentId },
        details: {
          person_id: grant.person_id,
          consent_type: grant.consent_type,
          status_before: consentStatus(grant, now),
          ...(reason !== undefined ? { reason } : {}),
        },
      });
      return revoked;
    });
    return toConsentView(row, now);
  }
}
