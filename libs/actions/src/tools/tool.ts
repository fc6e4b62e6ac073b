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
 * What a tool returns when its work finishes later, elsewhere (a device answering a command): the
 * runner leaves the action `executing`, and whoever sees the outcome completes it through
 * `ToolRunnerService.completeDeferred`, in the transaction that records that outcome.
 */
export const DEFERRED: { readonly deferred: true } = Object.freeze({ deferred: true as const });
export type ToolDeferred = typeof DEFERRED;

/**
 * Something an approved action can do. `execute` must be idempotent for one action id:
 * a redelivered action runs it again and must not act twice. It returns the action's result, or
 * DEFERRED when the result comes later.
 */
export interface Tool {
  readonly kind: string;
  /** Scopes an approver must hold, and which the runner checks again before executing. */
  readonly requiredScopes: readonly Scope[];
  execute(action: ActionRow): Promise<Record<string, unknown> | ToolDeferred>;
}

/**
 * The tools the runner and the planner know, by kind. The actions module registers its own; a
 * feature module that depends on actions registers its tools on init (`onModuleInit`), so that no
 * module depends back on the feature. Lookups happen per action, after every module is initialised.
 */
export class ToolRegistry {
  private readonly tools = new Map<string, Tool>();

  constructor(tools: readonly Tool[] = []) {
    for (const tool of tools) {
      this.register(tool);
    }
  }

  register(tool: Tool): void {
    if (this.tools.has(tool.kind) && this.tools.get(tool.kind) !== tool) {
      throw new Error(`a tool of kind ${tool.kind} is registered already`);
    }
    this.tools.set(tool.kind, tool);
  }

  get(kind: string): Tool | undefined {
    return this.tools.get(kind);
  }

  all(): Tool[] {
    return [...this.tools.values()];
  }
}
