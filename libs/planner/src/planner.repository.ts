import { Injectable } from '@nestjs/common';
import type { Kysely } from 'kysely';
import { asJson, asUuid, InjectKysely, type Database, type Executor } from '@marvain/db';

@Injectable()
export class PlannerRepository {
  constructor(@InjectKysely() private readonly db: Kysely<Database>) {}

  async runExists(eventId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('planner_runs')
      .select('run_id')
      .where('event_id', '=', asUuid(eventId))
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Claims the event's single run record; false when another delivery already wrote it. */
  async insertRun(
    run: {
      run_id: string;
      event_id: string;
      agent_id: string;
      model: string;
      status: string;
      output: Record<string, unknown> | null;
      error: string | null;
    },
    executor: Executor = this.db,
  ): Promise<boolean> {
    const result = await executor
      .insertInto('planner_runs')
      .values({
        run_id: asUuid(run.run_id),
        event_id: asUuid(run.event_id),
        agent_id: asUuid(run.agent_id),
        model: run.model,
        status: run.status,
        output: run.output === null ? null : asJson(run.output),
        error: run.error,
      })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
  }
}
