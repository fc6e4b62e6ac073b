/**
 * Reads SQL text the way the Data API has to before it reaches PostgreSQL: finds the named
 * parameters (`:name`) outside string literals, quoted identifiers, comments and dollar-quoted
 * bodies, rewrites them to positional `$n`, and counts the statements (the Data API for Aurora
 * Serverless v2 and provisioned clusters refuses more than one per call).
 */

export interface ScannedSql {
  /** The SQL with every `:name` replaced by `$n` (the same name always gets the same n). */
  readonly text: string;
  /** Parameter names in `$n` order: names[0] is $1. */
  readonly names: readonly string[];
  /** Statements with content, separated by top-level semicolons (a trailing `;` adds none). */
  readonly statements: number;
}

const isIdentStart = (c: string | undefined): boolean => c !== undefined && /[A-Za-z_\u0080-\uffff]/.test(c);
const isIdentChar = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
const isParamChar = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_]/.test(c);

export function scanSql(sql: string): ScannedSql {
  const names: string[] = [];
  const indexOf = new Map<string, number>();
  let out = '';
  let statements = 0;
  let statementHasContent = false;
  let i = 0;
  const n = sql.length;

  const copyUntil = (end: number): void => {
    out += sql.slice(i, end);
    i = end;
  };

  while (i < n) {
    const c = sql[i] as string;
    const next = sql[i + 1];

    // Whitespace
    if (/\s/.test(c)) {
      copyUntil(i + 1);
      continue;
    }
    // -- line comment
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      copyUntil(end === -1 ? n : end);
      continue;
    }
    // /* block comment */, nested as PostgreSQL nests them
    if (c === '/' && next === '*') {
      let depth = 0;
      let j = i;
      while (j < n) {
        if (sql[j] === '/' && sql[j + 1] === '*') {
          depth++;
          j += 2;
        } else if (sql[j] === '*' && sql[j + 1] === '/') {
          depth--;
          j += 2;
          if (depth === 0) {
            break;
          }
        } else {
          j++;
        }
      }
      copyUntil(j);
      continue;
    }

    statementHasContent = statementHasContent || c !== ';';

    if (c === ';') {
      if (statementHasContent) {
        statements++;
      }
      statementHasContent = false;
      copyUntil(i + 1);
      continue;
    }
    // 'string', E'string' (backslash escapes), '' doubles a quote
    if (c === "'") {
      const prev = sql[i - 1];
      const escapes = (prev === 'E' || prev === 'e') && !isIdentChar(sql[i - 2]);
      let j = i + 1;
      while (j < n) {
        const d = sql[j];
        if (escapes && d === '\\') {
          j += 2;
        } else if (d === "'" && sql[j + 1] === "'") {
          j += 2;
        } else if (d === "'") {
          j++;
          break;
        } else {
          j++;
        }
      }
      copyUntil(j);
      continue;
    }
    // "quoted identifier"
    if (c === '"') {
      let j = i + 1;
      while (j < n) {
        if (sql[j] === '"' && sql[j + 1] === '"') {
          j += 2;
        } else if (sql[j] === '"') {
          j++;
          break;
        } else {
          j++;
        }
      }
      copyUntil(j);
      continue;
    }
    // $tag$ dollar-quoted body $tag$ (not $1, and not a $ inside an identifier)
    if (c === '$' && !isIdentChar(sql[i - 1])) {
      const match = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i));
      if (match) {
        const tag = match[0];
        const close = sql.indexOf(tag, i + tag.length);
        copyUntil(close === -1 ? n : close + tag.length);
        continue;
      }
    }
    // identifiers and keywords, copied whole so a ':' never starts inside one
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentChar(sql[j])) {
        j++;
      }
      copyUntil(j);
      continue;
    }
    // :: casts
    if (c === ':' && next === ':') {
      copyUntil(i + 2);
      continue;
    }
    // :name parameters
    if (c === ':' && isParamChar(next)) {
      let j = i + 1;
      while (j < n && isParamChar(sql[j])) {
        j++;
      }
      const name = sql.slice(i + 1, j);
      let index = indexOf.get(name);
      if (index === undefined) {
        names.push(name);
        index = names.length;
        indexOf.set(name, index);
      }
      out += `$${index}`;
      i = j;
      continue;
    }
    copyUntil(i + 1);
  }
  if (statementHasContent) {
    statements++;
  }
  return { text: out, names, statements };
}
