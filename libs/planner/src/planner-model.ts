/** What the planner knows when it plans one event. */
export interface PlannerContext {
  agentId: string;
  spaceId: string;
  event: { event_id: string; type: string; text: string; created_at: string };
  recentEvents: Array<{ type: string; text: string | null; created_at: string }>;
  memories: Array<{ tier: string; content: string }>;
}

/** A model that turns context into planner output (validated by the caller, never trusted). */
export interface PlannerModel {
  readonly name: string;
  plan(context: PlannerContext): Promise<unknown>;
}
export const PLANNER_MODEL = Symbol('PlannerModel');
