import { Injectable } from '@nestjs/common';
import { sql, type Kysely } from 'kysely';
import {
  asJson,
  asUuid,
  InjectKysely,
  keysetPage,
  type ActionRow,
  type Database,
  type Executor,
  type Page,
  type PageRequest,
} from '@marvain/db';

export const ACTION_COLUMNS = [
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
] as const;

export interface NewProposedAction {
  action_id: string;
  agent_id: string;
  space_id: string | null;
  kind: string;
  payload: Record<string, unknown>;
  required_scopes: string[];
  reason: string | null;
  source_event_id: string | null;
}

export interface ActionPatch {
  status: string;
  approved_by?: string;
  rejected_by?: string;
  stamp?: 'approved_at' | 'rejected_at' | 'completed_at';
  result?: Record<string, unknown>;
  error?: string;
}

@Injectable()
export class ActionsRepository {
  constructor(@InjectKysely() private readonly db: Kysely<Database>) {}

  /** Inserts the proposal unless its id exists; the stored row when it wrote. */
  async insertProposed(action: NewProposedAction, executor: Executor = this.db): Promise<ActionRow | undefined> {
    return executor
      .insertInto('actions')
      .values({
        action_id: asUuid(action.action_id),
        agent_id: asUuid(action.agent_id),
        space_id: action.space_id === null ? null : asUuid(action.space_id),
        kind: action.kind,
        payload: asJson(action.payload),
        required_scopes: asJson(action.required_scopes),
        status: 'proposed',
        reason: action.reason,
        source_event_id: action.source_event_id === null ? null : asUuid(action.source_event_id),
      })
      .onConflict((oc) => oc.column('action_id').doNothing())
      .returning(ACTION_COLUMNS)
      .executeTakeFirst();
  }

  async findById(
    actionId: string,
    executor: Executor = this.db,
    { forUpdate = false }: { forUpdate?: boolean } = {},
  ): Promise<ActionRow | undefined> {
    const query = executor.selectFrom('actions').select(ACTION_COLUMNS).where('action_id', '=', asUuid(actionId));
    return (forUpdate ? query.forUpdate() : query).executeTakeFirst();
  }

  /** One page of the agent's actions, newest first (ties by id). */
  async list(
    query: { agentId: string; status?: string },
    page: PageRequest,
    executor: Executor = this.db,
  ): Promise<Page<ActionRow>> {
    let select = executor.selectFrom('actions').select(ACTION_COLUMNS).where('agent_id', '=', asUuid(query.agentId));
    if (query.status) {
      select = select.where('status', '=', query.status);
    }
    return keysetPage(select, { at: 'created_at', id: 'action_id', direction: 'desc' }, page);
  }

  async update(actionId: string, patch: ActionPatch, executor: Executor = this.db): Promise<ActionRow> {
    return executor
      .updateTable('actions')
      .set({
        status: patch.status,
        updated_at: sql`now()`,
        ...(patch.approved_by ? { approved_by: asUuid(patch.approved_by) } : {}),
        ...(patch.rejected_by ? { rejected_by: asUuid(patch.rejected_by) } : {}),
        ...(patch.stamp ? { [patch.stamp]: sql`now()` } : {}),
        ...(patch.result ? { result: asJson(patch.result) } : {}),
        ...(patch.error !== undefined ? { error: patch.error } : {}),
      })
      .where('action_id', '=', asUuid(actionId))
      .returning(ACTION_COLUMNS)
      .executeTakeFirstOrThrow();
  }
}
