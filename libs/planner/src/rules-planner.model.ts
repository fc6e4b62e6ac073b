import type { PlannerOutput } from './planner-output';
import type { PlannerContext, PlannerModel } from './planner-model';

const MESSAGE_REQUEST = /\b(?:tell|message|text|remind|let)\s+([A-Za-z][\w'-]{0,49})(?:\s+know)?\s*(?:,\s*)?(?:that\s+)?(.+?)\s*[.!?]*$/i;
const PREFERENCE = /\bI\s+(?:really\s+)?(like|love|prefer|enjoy|hate|dislike)\s+(.+?)\s*[.!?]*$/i;
const NAME = /\bmy name is\s+([A-Z][\w'-]{0,49})/i;
const REMEMBER = /\bremember\s+(?:that\s+)?(.+?)\s*[.!?]*$/i;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * The built-in deterministic planner: no network, no key. Every transcript becomes an
 * episodic memory; a few plain patterns become semantic memories; "tell Sam …" and similar
 * become a proposed send_message action.
 */
export class RulesPlannerModel implements PlannerModel {
  readonly name = 'rules-v1';

  plan(context: PlannerContext): Promise<PlannerOutput> {
    const text = context.event.text.trim().replace(/\s+/g, ' ');
    const output: PlannerOutput = { episodic: [{ content: clip(text, 2000) }], semantic: [], actions: [] };

    const name = NAME.exec(text);
    if (name?.[1]) output.semantic.push({ content: `The speaker's name is ${name[1]}.` });
    const preference = PREFERENCE.exec(text);
    if (preference?.[1] && preference[2]) output.semantic.push({ content: clip(`The speaker ${preference[1].toLowerCase()}s ${preference[2]}.`, 2000) });
    const remember = REMEMBER.exec(text);
    if (remember?.[1]) output.semantic.push({ content: clip(remember[1].replace(/^./, (c) => c.toUpperCase()), 2000) });

    const message = MESSAGE_REQUEST.exec(text);
    if (message?.[1] && message[2] && !/^(me|us|you)$/i.test(message[1])) {
      const to = message[1].replace(/^./, (c) => c.toUpperCase());
      output.actions.push({
        kind: 'send_message',
        payload: { to, text: clip(message[2], 2000) },
        reason: `The transcript asks to pass a message on to ${to}.`,
      });
    }
    return Promise.resolve(output);
  }
}
