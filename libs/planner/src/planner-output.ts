import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';

/** What a planner model must return; PLANNER_OUTPUT_SCHEMA is its strict form, which validatePlannerOutput enforces. */
export interface PlannerOutput {
  episodic: Array<{ content: string }>;
  semantic: Array<{ content: string }>;
  actions: Array<{ kind: 'send_message'; payload: { to: string; text: string }; reason: string }>;
}

export const PLANNER_LIMITS = {
  memoryChars: 2000,
  episodic: 5,
  semantic: 5,
  actions: 3,
  reasonChars: 500,
  messageChars: 2000,
} as const;

const memoryItem = {
  type: 'object',
  additionalProperties: false,
  required: ['content'],
  properties: { content: { type: 'string', minLength: 1, maxLength: PLANNER_LIMITS.memoryChars } },
} as const;

export const PLANNER_OUTPUT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['episodic', 'semantic', 'actions'],
  properties: {
    episodic: { type: 'array', maxItems: PLANNER_LIMITS.episodic, items: memoryItem },
    semantic: { type: 'array', maxItems: PLANNER_LIMITS.semantic, items: memoryItem },
    actions: {
      type: 'array',
      maxItems: PLANNER_LIMITS.actions,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['kind', 'payload', 'reason'],
        properties: {
          kind: { type: 'string', enum: ['send_message'] },
          payload: {
            type: 'object',
            additionalProperties: false,
            required: ['to', 'text'],
            properties: {
              to: { type: 'string', minLength: 1, maxLength: 100 },
              text: { type: 'string', minLength: 1, maxLength: PLANNER_LIMITS.messageChars },
            },
          },
          reason: { type: 'string', minLength: 1, maxLength: PLANNER_LIMITS.reasonChars },
        },
      },
    },
  },
} as const;

// Compiled on first use, not at load: every entry that imports the planner library pays for the
// compile otherwise, and only the planner validates.
let compiled: ValidateFunction<PlannerOutput> | undefined;
const validator = (): ValidateFunction<PlannerOutput> =>
  (compiled ??= new Ajv({ allErrors: true, strict: true }).compile<PlannerOutput>(PLANNER_OUTPUT_SCHEMA));

export type PlannerValidation = { ok: true; output: PlannerOutput } | { ok: false; errors: string[] };

/** Strict validation: unknown fields, wrong types, or anything over the bounds rejects the whole output. */
export function validatePlannerOutput(raw: unknown): PlannerValidation {
  const validate = validator();
  if (validate(raw)) {
    return { ok: true, output: raw };
  }
  const errors = (validate.errors ?? []).map(
    (e: ErrorObject) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`,
  );
  return { ok: false, errors };
}
