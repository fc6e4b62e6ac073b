import type { PlannerOutput } from './planner-output';
import type { PlannerContext, PlannerModel } from './planner-model';

/** A name: letters of any script, then letters, digits, apostrophes or hyphens ("Zoë", "O'Brien"). */
const NAME_TOKEN = String.raw`\p{L}[\p{L}\p{M}\p{N}'-]{0,49}`;
/** Words after "tell"/"let" that are not someone to pass a message to ("tell me …", "let it be", "the text was …"). */
const NOT_A_RECIPIENT = String.raw`(?!(?:me|us|you|him|her|them|it|my|your|his|our|their|the|a|an|this|that|was|is|are|were|be)(?![\p{L}\p{N}'-]))`;
/*
 * Each pattern used to end in `(.+?)\s*[.!?]*$`: the lazy capture retried the tail at every
 * character, which is quadratic on a long run of "." / "!" / "?" not at the very end. Now the
 * regex matches only the head, `(?=.)` standing for the capture's first character, and the
 * capture is computed by restOf() in one pass. Same captures: the planned text is one line
 * (whitespace collapsed), so the capture can always run on to the end once it has a character.
 */
// "tell|message|text|remind NAME <message>" or "let NAME know <message>"; the name must be followed by the message.
const MESSAGE_REQUEST = new RegExp(
  String.raw`\b(?:(?:tell|message|text|remind)\s+${NOT_A_RECIPIENT}(${NAME_TOKEN})|let\s+${NOT_A_RECIPIENT}(${NAME_TOKEN})\s+know)(?:\s*,\s*|\s+)(?:that\s+)?(?=.)`,
  'iu',
);
const PREFERENCE = /\bI\s+(?:really\s+)?(like|love|prefer|enjoy|hate|dislike)\s+(?=.)/i;
const NAME = new RegExp(String.raw`\bmy name is\s+(${NAME_TOKEN})`, 'iu');
const REMEMBER = /\bremember\s+(?:that\s+)?(?=.)/i;

/**
 * How much of a transcript is planned: its first 16 Ki characters (UTF-16 units). Work per event
 * stays bounded whatever a device sends; the episodic memory keeps only the first 2000
 * characters anyway, so only a request, name or preference stated after this point goes unnoticed.
 */
export const RULES_PLANNER_MAX_CHARS = 16 * 1024;

const ENDING_PUNCTUATION = new Set(['.', '!', '?']);

/**
 * What `(.+?)\s*[.!?]*$` captures from `from` on: the rest of the text without its trailing
 * "." / "!" / "?" and the spaces before them, but at least one character. Linear.
 */
function restOf(text: string, match: RegExpExecArray): string {
  const from = match.index + match[0].length;
  let end = text.length;
  while (end > from && ENDING_PUNCTUATION.has(text.charAt(end - 1))) {
    end--;
  }
  while (end > from && /\s/.test(text.charAt(end - 1))) {
    end--;
  }
  return text.slice(from, Math.max(end, from + 1));
}

/** The first `max` UTF-16 units of `text`, never ending in half a surrogate pair. */
function head(text: string, max: number): string {
  if (text.length <= max) {
    return text;
  }
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

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
    // Every whitespace run becomes one space; single spaces, the usual case, are left as they are.
    const text = head(context.event.text, RULES_PLANNER_MAX_CHARS)
      .trim()
      .replace(/\s{2,}|[^\S ]/g, ' ');
    const output: PlannerOutput = { episodic: [{ content: clip(text, 2000) }], semantic: [], actions: [] };

    const name = NAME.exec(text);
    if (name?.[1]) {
      output.semantic.push({ content: `The speaker's name is ${name[1]}.` });
    }
    const preference = PREFERENCE.exec(text);
    if (preference?.[1]) {
      output.semantic.push({
        content: clip(`The speaker ${preference[1].toLowerCase()}s ${restOf(text, preference)}.`, 2000),
      });
    }
    const remember = REMEMBER.exec(text);
    if (remember) {
      output.semantic.push({
        content: clip(
          restOf(text, remember).replace(/^./, (c) => c.toUpperCase()),
          2000,
        ),
      });
    }

    const message = MESSAGE_REQUEST.exec(text);
    const recipient = message?.[1] ?? message?.[2];
    if (message && recipient) {
      const to = recipient.replace(/^./u, (c) => c.toUpperCase());
      output.actions.push({
        kind: 'send_message',
        payload: { to, text: clip(restOf(text, message), 2000) },
        reason: `The transcript asks to pass a message on to ${to}.`,
      });
    }
    return Promise.resolve(output);
  }
}
