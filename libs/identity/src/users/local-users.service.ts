import { Inject, Injectable } from '@nestjs/common';
import { DomainError, ErrorCode } from '@marvain/contracts';
import { TransactionRunner, type Executor, type UserRow } from '@marvain/db';
import { AuditService } from '@marvain/audit';
import { IDS, type Ids } from '@marvain/platform';
import { PrincipalRevocations } from '../principals/principal-revocations';
import { USER_TOKEN_ISSUER, type UserTokenIssuer } from './user-tokens';
import { UsersRepository } from './users.repository';

export const LOCAL_SUBJECT_PREFIX = 'local:';

export interface IssuedUserToken {
  user_id: string;
  email: string | null;
  user_token: string;
}

export interface RevokedUserTokens {
  user_id: string;
  /** Tokens issued from now on carry this version; every older one is refused. */
  token_version: number;
}

/**
 * Users of the local runtime, where the hub is its own token issuer. (In AWS, Cognito owns
 * users and issues their tokens; the hub links a user on first sight of a verified token.)
 */
@Injectable()
export class LocalUsersService {
  constructor(
    private readonly repository: UsersRepository,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    @Inject(IDS) private readonly ids: Ids,
    @Inject(USER_TOKEN_ISSUER) private readonly tokens: UserTokenIssuer,
    private readonly revocations: PrincipalRevocations,
  ) {}

  async create(email: string, displayName: string | null): Promise<IssuedUserToken> {
    const normalized = email.trim().toLowerCase();
    const user = await this.transactions.run(async (tx) => {
      if (await this.repository.findLocalByEmail(normalized, tx.db)) {
        throw new DomainError(
          ErrorCode.Conflict,
          `a local user with email ${normalized} already exists; use "marvain token issue --email ${normalized}"`,
        );
      }
      const created = await this.repository.upsert(
        {
          user_id: this.ids.random(),
          subject: `${LOCAL_SUBJECT_PREFIX}${this.ids.random()}`,
          email: normalized,
          display_name: displayName,
        },
        tx.db,
      );
      await this.audit.append(tx, {
        agentId: null,
        action: 'user.created',
        actor: { type: 'system', id: 'operator' },
        subject: { type: 'user', id: created.user_id },
        details: { email: normalized },
      });
      return created;
    });
    return this.issueFor(user);
  }

  /** A fresh token for an existing local user, found by id or email. */
  async issue(by: { userId?: string; email?: string }): Promise<IssuedUserToken> {
    const user = await this.findExisting(by);
    if (!user.subject.startsWith(LOCAL_SUBJECT_PREFIX)) {
      throw new DomainError(
        ErrorCode.ValidationFailed,
        'this user signs in through Cognito; the local hub does not issue its tokens',
      );
    }
    return this.issueFor(user);
  }

  /**
   * Revokes every token the user holds, from their next request on: the user's token version is
   * raised (audited in the system chain), and tokens carry the version they were issued at.
   */
  async revokeTokens(
    by: { userId?: string; email?: string },
    actor: { type: 'user' | 'system'; id: string },
  ): Promise<RevokedUserTokens> {
    return this.transactions.run(async (tx) => {
      const user = await this.findExisting(by, tx.db);
      if (!user.subject.startsWith(LOCAL_SUBJECT_PREFIX)) {
        throw new DomainError(
          ErrorCode.ValidationFailed,
          "this user signs in through Cognito; revoke their tokens there (Cognito's global sign-out)",
        );
      }
      const version = await this.repository.raiseTokenVersion(user.user_id, tx.db);
      if (version === undefined) {
        throw DomainError.notFound('user', user.user_id);
      }
      await this.audit.append(tx, {
        agentId: null,
        action: 'user.tokens_revoked',
        actor,
        subject: { type: 'user', id: user.user_id },
        details: { token_version: version },
      });
      this.revocations.afterCommit(tx, { principal: { type: 'user', id: user.user_id }, reason: 'credential_revoked' });
      return { user_id: user.user_id, token_version: version };
    });
  }

  /** The user with this id, or the local user with this email; 404 when there is none. */
  private async findExisting(by: { userId?: string; email?: string }, executor?: Executor): Promise<UserRow> {
    const user = by.userId
      ? await this.repository.find(by.userId, executor)
      : by.email
        ? await this.repository.findLocalByEmail(by.email.trim().toLowerCase(), executor)
        : undefined;
    if (!user) {
      throw DomainError.notFound('user', by.userId ?? by.email);
    }
    return user;
  }

  private async issueFor(user: UserRow): Promise<IssuedUserToken> {
    const token = await this.tokens.issue({
      subject: user.subject,
      email: user.email,
      displayName: user.display_name,
      tokenVersion: user.token_version,
    });
    return { user_id: user.user_id, email: user.email, user_token: token };
  }
}
