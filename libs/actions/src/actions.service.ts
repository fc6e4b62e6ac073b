import { Inject, Injectable } from '@nestjs/common';
import {
  DomainError,
  ErrorCode,
  missingScopes,
  QueueNames,
  scopesFor,
  type ActionReference,
  type ActionStatus,
  type Principal,
} from '@marvain/contracts';
import { TransactionRunner, type ActionRow, type Tx } from '@marvain/db';
import { AuditService } from '@marvain/audit';
import {
  assertAgentScope,
  MESSAGE_QUEUE,
  nextCursor,
  pageRequest,
  type MessageQueue,
  LoggerFactory,
  type HubLogger,
} from '@marvain/platform';
import { AgentStream } from '@marvain/streams';
import type { ActionList, ActionView, ListActionsQuery } from './actions.dto';
import { ActionsRepository, type NewProposedAction } from './actions.repository';

/** Which status may follow which: the action lifecycle. */
export const ACTION_TRANSITIONS: Readonly<Record<ActionStatus, readonly ActionStatus[]>> = {
  proposed: ['approved', 'rejected', 'canceled'],
  // approved -> failed: the approval no longer held when the tool runner came to execute it.
  approved: ['executing', 'failed', 'canceled'],
  executing: ['executed', 'failed'],
  rejected: [],
  executed: [],
  failed: [],
  canceled: [],
};

export function assertTransition(action: ActionRow, to: ActionStatus): void {
  const from = action.status;
  // The stored status is only text to TypeScript; an unknown one allows nothing.
  const allowed = (ACTION_TRANSITIONS as Partial<Record<string, readonly ActionStatus[]>>)[from] ?? [];
  if (!allowed.includes(to)) {
    throw new DomainError(
      ErrorCode.ActionInvalidTransition,
      `action ${action.action_id} is ${from} and cannot become ${to}`,
      { from, to },
    );
  }
}

const iso = (value: Date | null): string | null => (value ? value.toISOString() : null);

export function toActionView(row: ActionRow): ActionView {
  return {
    ...row,
    approved_at: iso(row.approved_at),
    rejected_at: iso(row.rejected_at),
    completed_at: iso(row.completed_at),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** Writes an action's new state to its agent's stream (`actions.updated`), in the transaction that changed it. */
export async function appendActionUpdated(stream: AgentStream, tx: Tx, row: ActionRow): Promise<void> {
  await stream.append(tx, {
    agent_id: row.agent_id,
    topic: 'actions.updated',
    space_id: row.space_id,
    data: toActionView(row),
  });
}

@Injectable()
export class ActionsService {
  private readonly logger: HubLogger;

  constructor(
    private readonly repository: ActionsRepository,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    @Inject(MESSAGE_QUEUE) private readonly queue: MessageQueue,
    private readonly stream: AgentStream,
    logs: LoggerFactory,
  ) {
    this.logger = logs.forContext('Actions');
  }

  /** Records a proposed action inside the caller's transaction; a repeat of the same id writes nothing. */
  async propose(tx: Tx, action: NewProposedAction, actor: { type: 'agent' | 'system'; id: string }): Promise<boolean> {
    const inserted = await this.repository.insertProposed(action, tx.db);
    if (inserted) {
      await this.audit.append(tx, {
        agentId: action.agent_id,
        action: 'action.proposed',
        actor,
        subject: { type: 'action', id: action.action_id },
        details: {
          kind: action.kind,
          required_scopes: action.required_scopes,
          source_event_id: action.source_event_id,
        },
      });
      await appendActionUpdated(this.stream, tx, inserted);
      tx.afterCommit(() =>
        this.logger.log({
          msg: 'action proposed',
          action_id: action.action_id,
          agent_id: action.agent_id,
          kind: action.kind,
          source_event_id: action.source_event_id,
        }),
      );
    }
    return inserted !== undefined;
  }

  async list(principal: Principal, query: ListActionsQuery): Promise<ActionList> {
    assertAgentScope(principal, query.agent_id, 'actions:read');
    const page = await this.repository.list(
      { agentId: query.agent_id, ...(query.status ? { status: query.status } : {}) },
      pageRequest(query),
    );
    return { actions: page.rows.map(toActionView), next_cursor: nextCursor(page) };
  }

  async get(principal: Principal, actionId: string): Promise<ActionView> {
    const action = await this.repository.findById(actionId);
    if (!action) {
      throw DomainError.notFound('action', actionId);
    }
    assertAgentScope(principal, action.agent_id, 'actions:read', { what: 'action', id: actionId });
    return toActionView(action);
  }

  /** Approves a proposed action and queues it for the tool runner, in one audited transaction. */
  async approve(principal: Principal, actionId: string): Promise<ActionView> {
    return this.decide(principal, actionId, 'approved');
  }

  async reject(principal: Principal, actionId: string, reason?: string): Promise<ActionView> {
    return this.decide(principal, actionId, 'rejected', reason);
  }

  private async decide(
    principal: Principal,
    actionId: string,
    to: 'approved' | 'rejected',
    reason?: string,
  ): Promise<ActionView> {
    const row = await this.transactions.run(async (tx) => {
      const action = await this.repository.findById(actionId, tx.db, { forUpdate: true });
      if (!action) {
        throw DomainError.notFound('action', actionId);
      }
      assertAgentScope(principal, action.agent_id, 'actions:approve', { what: 'action', id: actionId });
      if (principal.type !== 'user') {
        throw new DomainError(ErrorCode.Forbidden, 'only a member of the agent can approve or reject actions');
      }
      const missing = missingScopes(scopesFor(principal, action.agent_id), action.required_scopes);
      if (to === 'approved' && missing.length > 0) {
        throw new DomainError(ErrorCode.Forbidden, `approving this action needs ${missing.join(', ')}`, {
          missing_scopes: missing,
        });
      }
      assertTransition(action, to);
      const updated = await this.repository.update(
        actionId,
        {
          status: to,
          ...(to === 'approved'
            ? { approved_by: principal.id, stamp: 'approved_at' as const }
            : { rejected_by: principal.id, stamp: 'rejected_at' as const }),
        },
        tx.db,
      );
      await this.audit.append(tx, {
        agentId: action.agent_id,
        action: to === 'approved' ? 'action.approved' : 'action.rejected',
        actor: { type: principal.type, id: principal.id },
        subject: { type: 'action', id: actionId },
        details: { kind: action.kind, ...(reason ? { reason } : {}) },
      });
      await appendActionUpdated(this.stream, tx, updated);
      if (to === 'approved') {
        const reference: ActionReference = { action_id: actionId, agent_id: action.agent_id };
        await this.queue.send(QueueNames.Actions, { ...reference }, { tx, dedupKey: `action:${actionId}` });
      }
      tx.afterCommit(() =>
        this.logger.log({
          msg: `action ${to}`,
          action_id: actionId,
          agent_id: action.agent_id,
          kind: action.kind,
          by: principal.type,
        }),
      );
      return updated;
    });
    return toActionView(row);
  }
}
