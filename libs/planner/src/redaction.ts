/**
 * PII redaction applied to everything the planner writes. Patterns are conservative: they
 * redact what is clearly an email address, payment card number or phone number, and leave a
 * marker saying what was removed.
 */
const RULES: ReadonlyArray<{ kind: string; pattern: RegExp }> = [
  { kind: 'email', pattern: /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g },
  { kind: 'card', pattern: /\b(?:\d[ -]?){12,18}\d\b/g },
  // Never starts inside a digit run (that left a number's first digits behind, and cut into year ranges).
  { kind: 'phone', pattern: /(?<![\d+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{2,5}[ .-]?\d{3,4}(?:[ .-]?\d{3,4})?\b/g },
];

/** "2023-2024", "2019 2020": years side by side, not a phone number. */
const YEAR_RUN = /^(?:19|20)\d{2}(?:[ .-](?:19|20)\d{2})+$/;

export interface Redacted {
  text: string;
  redactions: string[];
}

export function redactPii(input: string): Redacted {
  const redactions: string[] = [];
  let text = input;
  for (const rule of RULES) {
    text = text.replace(rule.pattern, (match) => {
      // Short digit runs (times, counts, years) are not phone numbers.
      if (rule.kind === 'phone' && (match.replace(/\D/g, '').length < 7 || YEAR_RUN.test(match))) return match;
      redactions.push(rule.kind);
      return `[redacted:${rule.kind}]`;
    });
  }
  return { text, redactions };
}
