import type { PlannerOutput } from './planner-output';
import type { PlannerContext, PlannerModel } from './planner-model';

/** A name: letters of any script, then letters, digits, apostrophes or hyphens ("Zoë", "O'Brien"). */
const NAME_TOKEN = String.raw`\p{L}[\p{L}\p{M}\p{N}'-]{0,49}`;
/** Words after "tell"/"let" that are not someone to pass a message to ("tell me …", "let it be", "the text was …"). */
const NOT_A_RECIPIENT = String.raw`(?!(?:me|us|you|him|her|them|it|my|your|his|our|their|the|a|an|this|that|was|is|are|were|be)(?![\p{L}\p{N}'-]))`;
// "tell|message|text|remind NAME <message>" or "let NAME know <message>"; the name must be followed by the message.
const MESSAGE_REQUEST = new RegExp(
  String.raw`\b(?:(?:tell|message|text|remind)\s+${NOT_A_RECIPIENT}(${NAME_TOKEN})|let\s+${NOT_A_RECIPIENT}(${NAME_TOKEN})\s+know)(?:\s*,\s*|\s+)(?:that\s+)?(.+?)\s*[.!?]*$`,
  'iu',
);
const PREFERENCE = /\bI\s+(?:really\s+)?(like|love|prefer|enjoy|hate|dislike)\s+(.+?)\s*[.!?]*$/i;
const NAME = new RegExp(String.raw`\bmy name is\s+(${NAME_TOKEN})`, 'iu');
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
    const recipient = message?.[1] ?? message?.[2];
    if (recipient && message?.[3]) {
      const to = recipient.replace(/^./u, (c) => c.toUpperCase());
      output.actions.push({
        kind: 'send_message',
        payload: { to, text: clip(message[3], 2000) },
        reason: `The transcript asks to pass a message on to ${to}.`,
      });
    }
    return Promise.resolve(output);
  }
}
