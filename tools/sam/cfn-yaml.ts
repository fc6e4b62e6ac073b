// Parses CloudFormation / SAM YAML: the short-form intrinsic tags (!Ref, !GetAtt, !Sub, ...) become
// their long JSON forms ({ Ref }, { 'Fn::GetAtt': [resource, attribute] }, { 'Fn::Sub': ... }, ...).
import { parseDocument, type CollectionTag, type ScalarTag, type YAMLMap, type YAMLSeq } from 'yaml';

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** Every intrinsic function CloudFormation accepts, by its short tag name. */
export const INTRINSIC_TAGS = [
  'Ref',
  'Condition',
  'Base64',
  'Cidr',
  'FindInMap',
  'GetAtt',
  'GetAZs',
  'ImportValue',
  'Join',
  'Length',
  'Select',
  'Split',
  'Sub',
  'ToJsonString',
  'Transform',
  'And',
  'Equals',
  'If',
  'Not',
  'Or',
] as const;

/** The long form's key: `Ref` and `Condition` stay as they are, the rest are `Fn::<name>`. */
export function intrinsicKey(tag: string): string {
  return tag === 'Ref' || tag === 'Condition' ? tag : `Fn::${tag}`;
}

export const INTRINSIC_KEYS: ReadonlySet<string> = new Set(INTRINSIC_TAGS.map(intrinsicKey));

/** `!GetAtt Resource.Attribute` splits at the first dot: attribute names may contain dots themselves. */
function getAttScalar(value: string): Json {
  const dot = value.indexOf('.');
  return dot < 0 ? [value] : [value.slice(0, dot), value.slice(dot + 1)];
}

function cfnTags(): Array<ScalarTag | CollectionTag> {
  const tags: Array<ScalarTag | CollectionTag> = [];
  for (const name of INTRINSIC_TAGS) {
    const key = intrinsicKey(name);
    tags.push({
      tag: `!${name}`,
      identify: () => false,
      resolve: (value: string) => ({ [key]: name === 'GetAtt' ? getAttScalar(value) : value }),
    });
    for (const collection of ['seq', 'map'] as const) {
      tags.push({
        tag: `!${name}`,
        collection,
        identify: () => false,
        resolve: (node: YAMLMap.Parsed | YAMLSeq.Parsed) => ({ [key]: node.toJSON() as Json }),
      });
    }
  }
  return tags;
}

export interface ParsedTemplate {
  template: JsonObject;
  /** Parse errors and warnings (an unknown `!Tag` is one): a valid template has none. */
  problems: string[];
}

export function parseCfnYaml(source: string): ParsedTemplate {
  const doc = parseDocument(source, { customTags: cfnTags(), uniqueKeys: true, prettyErrors: false });
  const problems = [...doc.errors, ...doc.warnings].map((problem) => problem.message);
  const template = doc.toJS({ maxAliasCount: 0 }) as Json;
  if (!isObject(template)) {
    return { template: {}, problems: [...problems, 'the template is not a YAML mapping'] };
  }
  return { template, problems };
}

export function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `{ 'Fn::X': ... }` or `{ Ref: ... }`: a single-key object whose key is an intrinsic function. */
export function intrinsicOf(value: Json | undefined): { fn: string; arg: Json } | undefined {
  if (!isObject(value)) {
    return undefined;
  }
  const keys = Object.keys(value);
  if (keys.length !== 1) {
    return undefined;
  }
  const [fn = ''] = keys;
  if (fn !== 'Ref' && fn !== 'Condition' && !fn.startsWith('Fn::')) {
    return undefined;
  }
  return { fn, arg: value[fn] as Json };
}
