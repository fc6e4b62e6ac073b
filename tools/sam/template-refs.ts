// Walks template values and reports what their intrinsic functions point at: Ref and Fn::GetAtt
// targets, ${...} variables of Fn::Sub, the conditions Fn::If and { Condition } name, and any
// Fn:: key that is not an intrinsic function.
import { INTRINSIC_KEYS, intrinsicOf, isObject, type Json } from './cfn-yaml';
import { PSEUDO_PARAMETERS } from './sam-spec';

export interface TemplateReference {
  kind: 'Ref' | 'GetAtt' | 'Sub';
  /** Logical id of a resource or parameter, or a pseudo parameter. */
  target: string;
  /** Attribute name for GetAtt, and for `${Resource.Attribute}` in Sub. */
  attribute?: string;
  path: string;
  /** Conditions under which this value is used: `X` inside the true branch of Fn::If X, `!X` in the false one. */
  conditions: string[];
}

export interface ConditionUse {
  name: string;
  path: string;
}

export interface WalkResult {
  references: TemplateReference[];
  conditionUses: ConditionUse[];
  mapLookups: Array<{ map: Json; path: string }>;
  problems: string[];
}

/** `${Name}` / `${Name.Attr}` variables of a Fn::Sub string; `${!Literal}` is an escaped literal. */
export function subVariables(text: string): string[] {
  const names: string[] = [];
  for (const match of text.matchAll(/\$\{([^}]*)\}/g)) {
    const inner = (match[1] ?? '').trim();
    if (!inner.startsWith('!')) {
      names.push(inner);
    }
  }
  return names;
}

export function walkIntrinsics(value: Json | undefined, path: string, conditions: string[] = []): WalkResult {
  const result: WalkResult = { references: [], conditionUses: [], mapLookups: [], problems: [] };
  visit(value, path, conditions, result);
  return result;
}

function visit(value: Json | undefined, path: string, conditions: string[], out: WalkResult): void {
  if (value === undefined || value === null || typeof value !== 'object') {
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      visit(item, `${path}[${index}]`, conditions, out);
    });
    return;
  }
  const intrinsic = intrinsicOf(value);
  if (!intrinsic) {
    for (const [key, child] of Object.entries(value)) {
      if (key.startsWith('Fn::')) {
        out.problems.push(`${path}: ${key} must be the only key of its mapping`);
      }
      visit(child, `${path}.${key}`, conditions, out);
    }
    return;
  }
  const { fn, arg } = intrinsic;
  const at = `${path}.${fn}`;
  if (!INTRINSIC_KEYS.has(fn)) {
    out.problems.push(`${at}: unknown intrinsic function`);
    return;
  }
  switch (fn) {
    case 'Ref':
      if (typeof arg !== 'string') {
        out.problems.push(`${at}: Ref takes a logical id`);
      } else {
        out.references.push({ kind: 'Ref', target: arg, path: at, conditions });
      }
      return;
    case 'Condition':
      if (typeof arg !== 'string') {
        out.problems.push(`${at}: Condition takes a condition name`);
      } else {
        out.conditionUses.push({ name: arg, path: at });
      }
      return;
    case 'Fn::GetAtt': {
      const [resource, attribute] = Array.isArray(arg) ? arg : [];
      if (typeof resource !== 'string' || typeof attribute !== 'string' || (arg as Json[]).length !== 2) {
        out.problems.push(`${at}: Fn::GetAtt takes [resource, attribute]`);
        return;
      }
      out.references.push({ kind: 'GetAtt', target: resource, attribute, path: at, conditions });
      return;
    }
    case 'Fn::Sub': {
      const [text, locals] = typeof arg === 'string' ? [arg, {}] : Array.isArray(arg) ? arg : [undefined, undefined];
      if (typeof text !== 'string' || !isObject(locals)) {
        out.problems.push(`${at}: Fn::Sub takes a string or [string, {variables}]`);
        return;
      }
      for (const variable of subVariables(text)) {
        if (variable in locals) {
          continue;
        }
        const dot = variable.indexOf('.');
        if (dot > 0 && !PSEUDO_PARAMETERS.has(variable)) {
          out.references.push({
            kind: 'Sub',
            target: variable.slice(0, dot),
            attribute: variable.slice(dot + 1),
            path: at,
            conditions,
          });
        } else {
          out.references.push({ kind: 'Sub', target: variable, path: at, conditions });
        }
      }
      visit(locals, `${at}[1]`, conditions, out);
      return;
    }
    case 'Fn::If': {
      const [condition, whenTrue, whenFalse] = Array.isArray(arg) && arg.length === 3 ? arg : [];
      if (typeof condition !== 'string') {
        out.problems.push(`${at}: Fn::If takes [condition, value if true, value if false]`);
        return;
      }
      out.conditionUses.push({ name: condition, path: at });
      visit(whenTrue, `${at}[1]`, [...conditions, condition], out);
      visit(whenFalse, `${at}[2]`, [...conditions, `!${condition}`], out);
      return;
    }
    case 'Fn::FindInMap':
      if (Array.isArray(arg)) {
        out.mapLookups.push({ map: arg, path: at });
      }
      visit(arg, at, conditions, out);
      return;
    default:
      visit(arg, at, conditions, out);
  }
}

/** Logical ids of the template's resources that `value` refers to (Ref, GetAtt or Sub). */
export function referencedResources(value: Json | undefined, resourceIds: ReadonlySet<string>): Set<string> {
  return new Set(
    walkIntrinsics(value, '')
      .references.map((reference) => reference.target)
      .filter((target) => resourceIds.has(target)),
  );
}
