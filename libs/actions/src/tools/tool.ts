import type { Scope } from '@marvain/contracts';
import type { ActionRow } from '@marvain/db';

/** A failure the action's record should carry as its error (the tool ran and said no). */
export class ToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolError';
  }
}

/**
 * Something an approved action can do. `execute` must be idempotent for one action id:
 * a redelivered action runs it again and must not act twice.
 */
export interface Tool {
  readonly kind: string;
  /** Scopes an approver must hold, and which the runner checks again before executing. */
  readonly requiredScopes: readonly Scope[];
  execute(action: ActionRow): Promise<Record<string, unknown>>;
}
export const TOOLS = Symbol('Tool[]');
