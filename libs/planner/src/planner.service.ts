import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { TRANSCRIPT_EVENT_TYPES, type EventReference } from '@marvain/contracts';
import { TransactionRunner, type EventRow } from '@marvain/db';
import { ActionsService, ToolRegistry } from '@marvain/actions';
import { AuditService } from '@marvain/audit';
import { EventsService, transcriptText } from '@marvain/events';
import { MemoryService } from '@marvain/memory';
import { canonicalJson, IDS, PoisonMessageError, type Ids, LoggerFactory, type HubLogger } from '@marvain/platform';
import { PLANNER_MODEL, type PlannerModel } from './planner-model';
import { PLANNER_LIMITS, validatePlannerOutput, type PlannerOutput } from './planner-output';
import { PlannerRepository } from './planner.repository';
import { redactPii } from './redaction';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type PlanOutcome = 'planned' | 'skipped' | 'rejected' | 'duplicate';

/** Not yet visible (the sender's transaction may still be committing): retried with backoff. */
export class EventNotFoundYetError extends Error {
  constructor(eventId: string) {
    super(`event ${eventId} is not visible yet`);
    this.name = 'EventNotFoundYetError';
  }
}

/**
 * Turns one ingested event into memories and proposed actions. Every id it writes is derived
 * from the event id, and the run record is claimed first in the same transaction, so a
 * redelivered message writes nothing twice.
 */
@Injectable()
export class PlannerService {
  private readonly logger: HubLogger;

  constructor(
    private readonly repository: PlannerRepository,
    private readonly transactions: TransactionRunner,
    private readonly events: EventsService,
    private readonly memories: MemoryService,
    private readonly actions: ActionsService,
    private readonly audit: AuditService,
    @Inject(PLANNER_MODEL) private readonly model: PlannerModel,
    @Inject(IDS) private readonly ids: Ids,
    private readonly tools: ToolRegistry,
    logs: LoggerFactory,
  ) {
    this.logger = logs.forContext('Planner');
  }

  /** `reference` is a queue message body: it may be anything, so it is checked before use. */
  async handle(reference: EventReference | null | undefined): Promise<PlanOutcome> {
    if (!reference || typeof reference.event_id !== 'string' || !UUID.test(reference.event_id)) {
      throw new PoisonMessageError('event reference without a valid event_id');
    }
    if (await this.repository.runExists(reference.event_id)) {
      return 'duplicate';
    }
    const event = await this.events.get(reference.event_id);
    if (!event) {
      throw new EventNotFoundYetError(reference.event_id);
    }
    if (event.agent_id !== reference.agent_id) {
      throw new PoisonMessageError(`event ${event.event_id} belongs to another agent`);
    }

    const text = TRANSCRIPT_EVENT_TYPES.includes(event.type) ? transcriptText(event.payload) : null;
    if (text === null) {
      return this.record(event, { status: 'skipped', output: null, error: null });
    }

    const raw = await this.model.plan({
      agentId: event.agent_id,
      spaceId: event.space_id,
      event: { event_id: event.event_id, type: event.type, text, created_at: event.created_at.toISOString() },
      recentEvents: (await this.events.recentInSpace(event.space_id, 10)).map((e) => ({
        type: e.type,
        text: transcriptText(e.payload),
        created_at: e.created_at.toISOString(),
      })),
      memories: (await this.memories.recent(event.agent_id, 20)).map((m) => ({ tier: m.tier, content: m.content })),
    });
    const validation = validatePlannerOutput(raw);
    if (!validation.ok) {
      this.logger.warn(`planner output for event ${event.event_id} rejected: ${validation.errors.join('; ')}`);
      return this.record(event, {
        status: 'failed',
        output: null,
        error: `invalid planner output: ${validation.errors.join('; ')}`.slice(0, 2000),
      });
    }
    return this.record(event, { status: 'succeeded', output: redactOutput(validation.output), error: null });
  }

  /** Audits an event whose planning was given up (dead-lettered), when the reference names a real event. */
  async recordDeadLetter(body: unknown, error: string): Promise<void> {
    const eventId = (body as Partial<EventReference> | null)?.event_id;
    if (typeof eventId !== 'string' || !UUID.test(eventId)) {
      return;
    }
    const event = await this.events.get(eventId);
    if (!event) {
      return;
    }
    await this.transactions.run((tx) =>
      this.audit.append(tx, {
        agentId: event.agent_id,
        action: 'event.dead_lettered',
        actor: { type: 'system', id: 'planner' },
        subject: { type: 'event', id: event.event_id },
        details: { type: event.type, space_id: event.space_id, error: error.slice(0, 500) },
      }),
    );
  }

  private async record(
    event: EventRow,
    run: { status: 'succeeded' | 'skipped' | 'failed'; output: PlannerOutput | null; error: string | null },
  ): Promise<PlanOutcome> {
    const runId = this.ids.derived(`planner-run:${event.event_id}`);
    const written = await this.transactions.run(async (tx): Promise<{ memories: number; actions: number } | null> => {
      const claimed = await this.repository.insertRun(
        {
          run_id: runId,
          event_id: event.event_id,
          agent_id: event.agent_id,
          model: this.model.name,
          status: run.status,
          output: run.output ? { ...run.output } : null,
          error: run.error,
        },
        tx.db,
      );
      if (!claimed) {
        return null;
      }
      const actor = { type: 'system' as const, id: 'planner' };
      // Ingestion is audited here rather than on the hot ingest path, so ingest takes no chain lock.
      await this.audit.append(tx, {
        agentId: event.agent_id,
        action: 'event.ingested',
        actor: {
          type: event.source_type === 'system' ? 'system' : (event.source_type as 'user' | 'device' | 'agent'),
          id: event.source_id,
        },
        subject: { type: 'event', id: event.event_id },
        details: {
          type: event.type,
          space_id: event.space_id,
          received_at: event.created_at.toISOString(),
          payload_sha256: createHash('sha256').update(canonicalJson(event.payload)).digest('hex'),
        },
      });
      const output = run.output ?? { episodic: [], semantic: [], actions: [] };
      const memoryRows = [
        ...output.episodic.map((m, i) => ({ tier: 'episodic', content: m.content, key: `episodic:${i}` })),
        ...output.semantic.map((m, i) => ({ tier: 'semantic', content: m.content, key: `semantic:${i}` })),
      ].map((m) => ({
        memory_id: this.ids.derived(`memory:${event.event_id}:${m.key}`),
        agent_id: event.agent_id,
        space_id: m.tier === 'episodic' ? event.space_id : null,
        tier: m.tier,
        content: m.content,
        source_event_id: event.event_id,
        provenance: { planner_run_id: runId, model: this.model.name },
      }));
      await this.memories.write(tx, memoryRows);
      const actionIds: string[] = [];
      for (const [i, action] of output.actions.entries()) {
        const actionId = this.ids.derived(`action:${event.event_id}:${i}`);
        actionIds.push(actionId);
        await this.actions.propose(
          tx,
          {
            action_id: actionId,
            agent_id: event.agent_id,
            space_id: event.space_id,
            kind: action.kind,
            payload: action.payload,
            required_scopes: [...(this.tools.get(action.kind)?.requiredScopes ?? [])],
            reason: action.reason,
            source_event_id: event.event_id,
          },
          actor,
        );
      }
      await this.audit.append(tx, {
        agentId: event.agent_id,
        action:
          run.status === 'failed'
            ? 'planner.rejected'
            : run.status === 'skipped'
              ? 'planner.skipped'
              : 'planner.completed',
        actor,
        subject: { type: 'event', id: event.event_id },
        details: {
          run_id: runId,
          model: this.model.name,
          memory_ids: memoryRows.map((m) => m.memory_id),
          action_ids: actionIds,
          ...(run.error ? { error: run.error } : {}),
        },
      });
      return { memories: memoryRows.length, actions: actionIds.length };
    });
    if (!written) {
      return 'duplicate';
    }
    // One line per planned event; the memories and actions it wrote are counted here (each action also gets its own line).
    const line = {
      msg: `event ${run.status === 'succeeded' ? 'planned' : run.status === 'skipped' ? 'skipped' : 'rejected'}`,
      event_id: event.event_id,
      agent_id: event.agent_id,
      type: event.type,
      ...written,
    };
    if (run.status === 'succeeded') {
      this.logger.log(line);
    } else {
      this.logger.debug(line);
    }
    return run.status === 'succeeded' ? 'planned' : run.status === 'skipped' ? 'skipped' : 'rejected';
  }
}

/** Redacts, then clips again: a marker can be longer than what it replaced, and the bounds must still hold. */
function redactOutput(output: PlannerOutput): PlannerOutput {
  const redact = (text: string, max: number): string => {
    const redacted = redactPii(text).text;
    return redacted.length <= max ? redacted : `${redacted.slice(0, max - 1)}…`;
  };
  return {
    episodic: output.episodic.map((m) => ({ content: redact(m.content, PLANNER_LIMITS.memoryChars) })),
    semantic: output.semantic.map((m) => ({ content: redact(m.content, PLANNER_LIMITS.memoryChars) })),
    actions: output.actions.map((a) => ({
      ...a,
      payload: { ...a.payload, text: redact(a.payload.text, PLANNER_LIMITS.messageChars) },
      reason: redact(a.reason, PLANNER_LIMITS.reasonChars),
    })),
  };
}
