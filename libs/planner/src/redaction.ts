/**
 * PII redaction applied to everything the planner writes. Patterns are conservative: they
 * redact what is clearly an email address, payment card number or phone number, and leave a
 * marker saying what was removed.
 */
const RULES: ReadonlyArray<{ kind: string; replace: (text: string, redact: (match: string) => string) => string }> = [
  { kind: 'email', replace: replaceEmails },
  // Bounded quantifiers only: the work per starting position is bounded, so these stay linear.
  { kind: 'card', replace: (text, redact) => text.replace(/\b(?:\d[ -]?){12,18}\d\b/g, redact) },
  // Never starts inside a digit run (that left a number's first digits behind, and cut into year ranges).
  {
    kind: 'phone',
    replace: (text, redact) =>
      text.replace(
        /(?<![\d+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{2,5}[ .-]?\d{3,4}(?:[ .-]?\d{3,4})?\b/g,
        redact,
      ),
  },
];

const isLetter = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
/** [A-Za-z0-9.-]: a domain character. */
const isDomainChar = (c: number): boolean => isLetter(c) || isDigit(c) || c === 46 || c === 45;
/** [A-Za-z0-9._%+-]: a local-part character. */
const isLocalChar = (c: number): boolean => isDomainChar(c) || c === 95 || c === 37 || c === 43;

/**
 * Where an address whose "@" is at `at` ends, or -1: the end of `[A-Za-z0-9.-]+\.[A-Za-z]{2,}`
 * matched greedily after the "@" (the last dot of the domain run that has a non-empty part
 * before it and two letters after it, then every letter after that dot).
 */
function domainEnd(text: string, at: number): number {
  let runEnd = at + 1;
  while (runEnd < text.length && isDomainChar(text.charCodeAt(runEnd))) {
    runEnd++;
  }
  for (let dot = runEnd - 3; dot >= at + 2; dot--) {
    if (text.charCodeAt(dot) !== 46 || !isLetter(text.charCodeAt(dot + 1)) || !isLetter(text.charCodeAt(dot + 2))) {
      continue;
    }
    let end = dot + 3;
    while (end < text.length && isLetter(text.charCodeAt(end))) {
      end++;
    }
    return end;
  }
  return -1;
}

/**
 * Replaces what `/[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g` matches, in one pass. The
 * regex retried its local part at every character of a long word or run of dots (quadratic);
 * here each "@" looks back over its own local part and ahead over its own domain, and neither
 * can contain an "@", so every character is looked at a bounded number of times.
 */
function replaceEmails(text: string, redact: (match: string) => string): string {
  let out = '';
  let done = 0;
  for (let at = text.indexOf('@'); at !== -1;) {
    let start = at;
    while (start > done && isLocalChar(text.charCodeAt(start - 1))) {
      start--;
    }
    const end = start < at ? domainEnd(text, at) : -1;
    if (end === -1) {
      at = text.indexOf('@', at + 1);
      continue;
    }
    out += text.slice(done, start) + redact(text.slice(start, end));
    done = end;
    at = text.indexOf('@', end);
  }
  return out + text.slice(done);
}

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
    text = rule.replace(text, (match) => {
      // Short digit runs (times, counts, years) are not phone numbers.
      if (rule.kind === 'phone' && (match.replace(/\D/g, '').length < 7 || YEAR_RUN.test(match))) {
        return match;
      }
      redactions.push(rule.kind);
      return `[redacted:${rule.kind}]`;
    });
  }
  return { text, redactions };
}
