// The CloudFormation resource specification from @aws-cdk/aws-service-spec (the database the AWS CDK
// generates its L1 constructs from; it ships as db.json.gz and loads offline), plus a validator for
// one resource's properties against it.
import { loadAwsServiceSpecSync } from '@aws-cdk/aws-service-spec';
import { intrinsicOf, isObject, type Json } from './cfn-yaml';

export type SpecDatabase = ReturnType<typeof loadAwsServiceSpecSync>;

/** Property type shapes of the spec (see @aws-cdk/service-spec-types `GenericPropertyType`). */
type PropertyType =
  | { type: 'string' | 'number' | 'integer' | 'boolean' | 'json' | 'date-time' | 'null' | 'tag' }
  | { type: 'ref'; reference: { $ref: string } }
  | { type: 'array' | 'map'; element: PropertyType }
  | { type: 'union'; types: PropertyType[] };

interface PropertySpec {
  required?: boolean;
  type: PropertyType;
  previousTypes?: PropertyType[];
}

export interface ResourceTypeSpec {
  cloudFormationType: string;
  properties: Readonly<Record<string, PropertySpec>>;
  attributes: ReadonlySet<string>;
}

let cached: SpecDatabase | undefined;

export function loadSpec(): SpecDatabase {
  cached ??= loadAwsServiceSpecSync();
  return cached;
}

export function resourceSpec(db: SpecDatabase, cloudFormationType: string): ResourceTypeSpec | undefined {
  const resource = db.lookup('resource', 'cloudFormationType', 'equals', cloudFormationType).at(0);
  if (!resource) {
    return undefined;
  }
  return {
    cloudFormationType,
    properties: resource.properties as unknown as Record<string, PropertySpec>,
    attributes: new Set(Object.keys(resource.attributes)),
  };
}

/**
 * Problems with `properties` of a resource of the given spec: unknown names and missing required
 * properties, at the top level and, where the value is written out literally (not an intrinsic
 * function), inside nested property types too.
 */
export function validateProperties(
  db: SpecDatabase,
  spec: ResourceTypeSpec,
  properties: Json | undefined,
  path: string,
): string[] {
  if (properties === undefined) {
    return requiredMissing(spec.properties, {}, path);
  }
  if (!isObject(properties)) {
    return [`${path}: Properties must be a mapping`];
  }
  return validateObject(db, spec.properties, properties, path);
}

/**
 * Problems with the named properties of `properties` when copied as they are onto a resource of
 * `spec` (SAM pass-through properties): unknown nested names; required-ness is not checked.
 */
export function validatePassThrough(
  db: SpecDatabase,
  spec: ResourceTypeSpec,
  properties: Record<string, Json>,
  names: readonly string[],
  path: string,
): string[] {
  const specs: Record<string, PropertySpec> = {};
  const values: Record<string, Json> = {};
  for (const name of names) {
    const prop = spec.properties[name];
    if (!(name in properties)) {
      continue;
    }
    if (!prop) {
      return [`${path}: ${spec.cloudFormationType} has no property ${name} to pass ${name} through to`];
    }
    specs[name] = { ...prop, required: false };
    values[name] = properties[name] as Json;
  }
  return validateObject(db, specs, values, path);
}

function requiredMissing(
  specs: Readonly<Record<string, PropertySpec>>,
  value: Record<string, Json>,
  path: string,
): string[] {
  return Object.entries(specs)
    .filter(([name, prop]) => prop.required === true && !(name in value))
    .map(([name]) => `${path}: required property ${name} is missing`);
}

function validateObject(
  db: SpecDatabase,
  specs: Readonly<Record<string, PropertySpec>>,
  value: Record<string, Json>,
  path: string,
): string[] {
  const problems = requiredMissing(specs, value, path);
  for (const [name, propertyValue] of Object.entries(value)) {
    const prop = specs[name];
    if (!prop) {
      problems.push(`${path}: unknown property ${name}`);
      continue;
    }
    const candidates = [prop.type, ...(prop.previousTypes ?? [])];
    const attempts = candidates.map((type) => validateValue(db, type, propertyValue, `${path}.${name}`));
    if (!attempts.some((attempt) => attempt.length === 0)) {
      problems.push(...(attempts[0] ?? []));
    }
  }
  return problems;
}

function validateValue(db: SpecDatabase, type: PropertyType, value: Json, path: string): string[] {
  // Intrinsic functions (Ref, Fn::If, ...) are resolved by CloudFormation: their shape is checked elsewhere.
  if (intrinsicOf(value)) {
    return [];
  }
  switch (type.type) {
    case 'ref': {
      const definition = db.get('typeDefinition', type.reference.$ref) as unknown as {
        properties: Record<string, PropertySpec>;
      };
      if (!isObject(value)) {
        return [`${path}: expected a mapping`];
      }
      return validateObject(db, definition.properties, value, path);
    }
    case 'array':
      if (!Array.isArray(value)) {
        return [`${path}: expected a list`];
      }
      return value.flatMap((element, index) => validateValue(db, type.element, element, `${path}[${index}]`));
    case 'map':
      if (!isObject(value)) {
        return [`${path}: expected a mapping`];
      }
      return Object.entries(value).flatMap(([key, element]) =>
        validateValue(db, type.element, element, `${path}.${key}`),
      );
    case 'union': {
      const attempts = type.types.map((member) => validateValue(db, member, value, path));
      return attempts.some((attempt) => attempt.length === 0) ? [] : (attempts[0] ?? []);
    }
    case 'boolean':
      return typeof value === 'boolean' || value === 'true' || value === 'false' ? [] : [`${path}: expected a boolean`];
    case 'integer':
    case 'number':
      return typeof value === 'number' ||
        (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value)))
        ? []
        : [`${path}: expected a number`];
    case 'string':
      return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
        ? []
        : [`${path}: expected a string`];
    default:
      return [];
  }
}
