import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError, ErrorCode } from '@marvain/contracts';

/**
 * Text the hub refuses anywhere a client can put it: NUL (U+0000) and lone UTF-16 surrogates.
 * PostgreSQL cannot store either in text or jsonb (it answers an error, which was a 500), and
 * neither is text a person typed. One rule for every string the API accepts, keys included.
 */
export interface UnsafeText {
  /** Where it is: the path of keys and indexes from the value's root ([] for the value itself). */
  path: Array<string | number>;
  /** True when the offending string is an object key (the last path segment), not a value. */
  inKey: boolean;
  /** What is wrong, without the text itself: "contains a NUL character", "contains a lone surrogate". */
  problem: string;
}

/** What is wrong with one string, or null when it is safe. Linear in its length. */
export function unsafeTextProblem(text: string): string | null {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit === 0) {
      return 'contains a NUL character (U+0000)';
    }
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : -1;
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++; // a well-formed pair
        continue;
      }
      return 'contains a lone UTF-16 surrogate';
    }
    if (unit >= 0xdc00 && unit <= 0xdfff) {
      return 'contains a lone UTF-16 surrogate';
    }
  }
  return null;
}

/**
 * The first unsafe string in `value` (any JSON-like value: strings, arrays, plain objects and
 * their keys), depth first in document order, or null. Iterative, so no input can exhaust the stack.
 * Pure: the WebSocket protocol runs it on frames, the HTTP hook below on every request.
 */
export function findUnsafeText(value: unknown): UnsafeText | null {
  // Paths are kept as links to the parent's, so a deep value costs no copying per level.
  const pending: Array<[unknown, PathLink | null]> = [[value, null]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, at] = next;
    if (typeof item === 'string') {
      const problem = unsafeTextProblem(item);
      if (problem) {
        return { path: pathOf(at), inKey: false, problem };
      }
      continue;
    }
    if (item === null || typeof item !== 'object') {
      continue;
    }
    const children: Array<[unknown, PathLink]> = [];
    if (Array.isArray(item)) {
      (item as unknown[]).forEach((child, index) => children.push([child, { parent: at, segment: index }]));
    } else {
      for (const [key, child] of Object.entries(item as Record<string, unknown>)) {
        const link = { parent: at, segment: key };
        const problem = unsafeTextProblem(key);
        if (problem) {
          return { path: pathOf(link), inKey: true, problem: `is a key that ${problem}` };
        }
        children.push([child, link]);
      }
    }
    // Reversed onto the stack so the first child is looked at first.
    for (let i = children.length - 1; i >= 0; i--) {
      pending.push(children[i] as [unknown, PathLink]);
    }
  }
  return null;
}

interface PathLink {
  parent: PathLink | null;
  segment: string | number;
}

function pathOf(link: PathLink | null): Array<string | number> {
  const path: Array<string | number> = [];
  for (let at = link; at !== null; at = at.parent) {
    path.push(at.segment);
  }
  return path.reverse();
}

const MAX_SEGMENT_CHARS = 64;

/**
 * A path as the validation errors name fields ("payload.items.0.note"). Client-supplied keys are
 * shown with NUL and lone surrogates escaped (\u0000) and long ones cut, so an error never
 * echoes the offending text or a huge key back.
 */
export function describePath(path: ReadonlyArray<string | number>): string {
  return path
    .map((segment) => {
      if (typeof segment === 'number') {
        return String(segment);
      }
      const cut = segment.length > MAX_SEGMENT_CHARS ? `${segment.slice(0, MAX_SEGMENT_CHARS)}…` : segment;
      return escapeUnsafe(cut);
    })
    .join('.');
}

function escapeUnsafe(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const pair =
      unit >= 0xd800 &&
      unit <= 0xdbff &&
      i + 1 < text.length &&
      text.charCodeAt(i + 1) >= 0xdc00 &&
      text.charCodeAt(i + 1) <= 0xdfff;
    if (pair) {
      out += text.slice(i, i + 2);
      i++;
    } else if (unit === 0 || (unit >= 0xd800 && unit <= 0xdfff)) {
      out += `\\u${unit.toString(16).padStart(4, '0')}`;
    } else {
      out += text.charAt(i);
    }
  }
  return out;
}

/** The request parts a client controls, as the validation errors name them. */
const REQUEST_PARTS = [
  { part: 'params', where: 'path parameter' },
  { part: 'query', where: 'query parameter' },
  { part: 'body', where: 'body field' },
] as const;

/**
 * The name of the first query parameter whose %-escapes do not decode to text (a malformed
 * escape, or bytes that are not UTF-8 such as an encoded lone surrogate), or null. The query
 * parser keeps such a value as its raw escapes; the router refuses the same in a path, and so
 * does the hub in a query.
 */
export function undecodableQueryParameter(url: string): string | null {
  const start = url.indexOf('?');
  if (start < 0) {
    return null;
  }
  for (const part of url.slice(start + 1).split('&')) {
    try {
      decodeURIComponent(part.replace(/\+/g, ' '));
    } catch {
      const name = part.split('=')[0] ?? '';
      try {
        return decodeURIComponent(name);
      } catch {
        return name; // the name itself is undecodable: shown as sent (%-escapes are plain ASCII)
      }
    }
  }
  return null;
}

const refusal = (field: string, message: string, problem: string): DomainError =>
  new DomainError(ErrorCode.ValidationFailed, message, { fields: [{ field, problems: [`${field} ${problem}`] }] });

/** The 400 for the first unsafe string in a request's path parameters, query or body; null when there is none. */
export function unsafeRequestText(
  request: Pick<FastifyRequest, 'params' | 'query' | 'body'> & { url?: string },
): DomainError | null {
  for (const { part, where } of REQUEST_PARTS) {
    const found = findUnsafeText(request[part]);
    if (!found) {
      continue;
    }
    const field = describePath(found.path);
    // A body that is itself one bad string has no field name; it is "the body".
    if (field === '') {
      return refusal(part, `the ${part === 'body' ? 'request body' : where} ${found.problem}`, found.problem);
    }
    return refusal(field, `${where} ${field} ${found.problem}`, found.problem);
  }
  const undecodable = request.url === undefined ? null : undecodableQueryParameter(request.url);
  if (undecodable !== null) {
    const field = describePath([undecodable]);
    return refusal(field, `query parameter ${field} is not valid %-encoded UTF-8`, 'is not valid %-encoded UTF-8');
  }
  return null;
}

/** The refusal of the first unsafe string in a WebSocket message (any field, any depth); null when there is none. */
export function unsafeMessageText(message: unknown): DomainError | null {
  const found = findUnsafeText(message);
  if (!found) {
    return null;
  }
  const field = describePath(found.path);
  return refusal(field, `${found.inKey ? 'a key in ' : ''}field ${field} ${found.problem}`, found.problem);
}

/**
 * Refuses NUL and lone surrogates in every request, before any guard, pipe or handler sees it
 * (a guard looking a path parameter up in the database would otherwise be the one to fail).
 * preValidation runs after the body is parsed and the route's params are known.
 */
export function refuseUnsafeRequestText(fastify: FastifyInstance): void {
  fastify.addHook('preValidation', (request, _reply, done) => {
    const refused = unsafeRequestText(request);
    if (refused) {
      done(refused as DomainError & FastifyError);
    } else {
      done();
    }
  });
}
