import { Injectable } from '@nestjs/common';
import { missingScopes, type ActionReference, type ActionStatus } from '@marvain/contracts';
import { TransactionRunner, type ActionRow, type Tx } from '@marvain/db';
import { AuditService } from '@marvain/audit';
import { AccessService } from '@marvain/identity';
import { PoisonMessageError, LoggerFactory, type HubLogger } from '@marvain/platform';
import { AgentStream } from '@marvain/streams';
import { ActionsRepository, type ActionPatch } from './actions.repository';
import { appendActionUpdated, assertTransition } from './actions.service';
import { DEFERRED, ToolError, ToolRegistry, type Tool } from './tools/tool';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const FINISHED: readonly ActionStatus[] = ['executed', 'failed', 'rejected', 'canceled'];

/** `deferred`: the tool's result comes later (see DEFERRED); the action stays executing. */
export type ToolRunOutcome = 'executed' | 'failed' | 'already-finished' | 'deferred';

/** How a deferred action ended: its result, or its error text (a code first, e.g. `device_timeout: …`). */
export type DeferredOutcome = { result: Record<string, unknown> } | { error: string };

/** The action is not (yet) visible as approved; a transient condition, so the message is retried. */
export class ActionNotReadyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ActionNotReadyError';
  }
}

/**
 * Executes approved actions: checks the approval still holds (the approver's scopes are read
 * again), marks the action executing, runs its tool, and records the result, each step audited.
 * A redelivered action that is still `executing` runs its (idempotent) tool again.
 */
@Injectable()
export class ToolRunnerService {
  private readonly logger: HubLogger;

  constructor(
    private readonly repository: ActionsRepository,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    private readonly access: AccessService,
    private readonly stream: AgentStream,
    private readonly tools: ToolRegistry,
    logs: LoggerFactory,
  ) {
    this.logger = logs.forContext('ToolRunner');
  }

  /** `reference` is a queue message body: it may be anything, so it is checked before use. */
  async handle(reference: ActionReference | null | undefined): Promise<ToolRunOutcome> {
    if (!reference || typeof reference.action_id !== 'string' || !UUID.test(reference.action_id)) {
      throw new PoisonMessageError('action reference without a valid action_id');
    }
    const action = await this.repository.findById(reference.action_id);
    // Not visible or not approved yet: the approval's transaction may still be committing (SQS
    // delivers a message sent inside it before the commit). Retried with backoff, then dead-lettered.
    if (!action) {
      throw new ActionNotReadyError(`action ${reference.action_id} is not visible yet`);
    }
    if (FINISHED.includes(action.status as ActionStatus)) {
      return 'already-finished';
    }
    if (action.status === 'proposed') {
      throw new ActionNotReadyError(`action ${action.action_id} is not approved yet`);
    }

    const tool = this.tools.get(action.kind);
    if (!tool) {
      return this.finish(action, 'failed', { error: `no tool can run actions of kind ${action.kind}` });
    }
    const problem = await this.approvalProblem(action, tool);
    if (problem) {
      return this.finish(action, 'failed', { error: problem });
    }

    if (action.status === 'approved') {
      await this.markExecuting(action);
    }
    try {
      const result = await tool.execute(action);
      if (result === DEFERRED) {
        return 'deferred';
      }
      return await this.finish(action, 'executed', { result });
    } catch (error) {
      if (error instanceof ToolError) {
        return this.finish(action, 'failed', { error: error.message });
      }
      throw error; // transient: the queue retries with backoff, the action stays executing
    }
  }

  /**
   * Completes an action whose tool answered DEFERRED, inside the caller's transaction (the one
   * that records the outcome: a device's result, a command's expiry), through the same audited,
   * streamed status change as any other. False when the action is not executing (finished
   * already, or unknown): nothing is written.
   */
  async completeDeferred(tx: Tx, actionId: string, outcome: DeferredOutcome): Promise<boolean> {
    const current = await this.repository.findById(actionId, tx.db, { forUpdate: true });
    if (!current || current.status !== 'executing') {
      return false;
    }
    const status = 'result' in outcome ? 'executed' : 'failed';
    await this.changeStatus(
      tx,
      current,
      { status, stamp: 'completed_at', ...outcome },
      { kind: current.kind, ...outcome },
    );
    tx.afterCommit(() => {
      const line = { msg: `action ${status}`, action_id: actionId, agent_id: current.agent_id, kind: current.kind };
      if ('error' in outcome) {
        this.logger.warn({ ...line, error: outcome.error });
      } else {
        this.logger.log(line);
      }
    });
    return true;
  }

  /** Whether the approval still holds: the approver must hold, now, what the action and its tool need. */
  private async approvalProblem(action: ActionRow, tool: Tool): Promise<string | null> {
    if (!action.approved_by) {
      return 'the action has no approver';
    }
    const scopes = await this.access.userScopes(action.approved_by, action.agent_id);
    const needed = [...new Set(['actions:approve', ...action.required_scopes, ...tool.requiredScopes])];
    const missing = missingScopes(scopes, needed);
    return missing.length > 0 ? `the approver no longer holds ${missing.join(', ')}` : null;
  }

  private async markExecuting(action: ActionRow): Promise<void> {
    await this.transactions.run(async (tx) => {
      const current = await this.repository.findById(action.action_id, tx.db, { forUpdate: true });
      if (!current || current.status !== 'approved') {
        return;
      }
      await this.changeStatus(tx, current, { status: 'executing' }, { kind: action.kind });
    });
  }

  private async finish(
    action: ActionRow,
    status: 'executed' | 'failed',
    outcome: { result?: Record<string, unknown>; error?: string },
  ): Promise<ToolRunOutcome> {
    return this.transactions.run(async (tx) => {
      const current = await this.repository.findById(action.action_id, tx.db, { forUpdate: true });
      if (!current || FINISHED.includes(current.status as ActionStatus)) {
        return 'already-finished';
      }
      // From executing, or from approved when the approval no longer holds: then the action
      // fails without ever executing.
      const recorded = {
        ...(outcome.result ? { result: outcome.result } : {}),
        ...(outcome.error ? { error: outcome.error } : {}),
      };
      await this.changeStatus(
        tx,
        current,
        { status, stamp: 'completed_at', ...recorded },
        { kind: action.kind, ...recorded },
      );
      tx.afterCommit(() => {
        const line = {
          msg: `action ${status}`,
          action_id: action.action_id,
          agent_id: action.agent_id,
          kind: action.kind,
        };
        if (status === 'failed') {
          this.logger.warn({ ...line, error: outcome.error ?? '' });
        } else {
          this.logger.log(line);
        }
      });
      return status;
    });
  }

  /**
   * One status change, checked against the lifecycle, audited as `action.<status>` and written to
   * the agent's stream: never one without the others.
   */
  private async changeStatus(
    tx: Tx,
    current: ActionRow,
    patch: ActionPatch & { status: 'executing' | 'executed' | 'failed' },
    details: Record<string, unknown>,
  ): Promise<void> {
    assertTransition(current, patch.status);
    const updated = await this.repository.update(current.action_id, patch, tx.db);
    await this.audit.append(tx, {
      agentId: current.agent_id,
      action: `action.${patch.status}`,
      actor: { type: 'system', id: 'tool-runner' },
      subject: { type: 'action', id: current.action_id },
      details,
    });
    await appendActionUpdated(this.stream, tx, updated);
  }
}
