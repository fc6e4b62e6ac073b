import { randomUUID } from 'node:crypto';
import type { Type } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { ModulesContainer } from '@nestjs/core';
import {
  getFromContainer,
  getMetadataStorage,
  ValidationTypes,
  type ValidationArguments,
  type ValidatorConstraintInterface,
} from 'class-validator';
import { ERROR_HTTP_STATUS, ErrorCode, hasScope } from '@marvain/contracts';
import { testDatabaseKind } from '@marvain/db/testing';
import type { BootstrapResult } from '@marvain/identity';
import { BODY_LIMIT_BYTES } from './setup';
import { openHubTestServer, type HubTestServer } from './testing/hub-test-server';
import { routeTable, type RouteEntry } from './testing/route-table';

/*
 * Bad input on every route → 400 validation_failed, never a 500 and never accepted.
 *
 * Nothing here names a route: the routes come from the route table, and what each one takes
 * (path parameters, query, body) from the metadata Nest and class-validator keep for its handler
 * and DTO classes. A new route, or a new field on a DTO, is swept without touching this file.
 */

// Generous for the Data API run (each request there is several HTTP round trips); PGlite takes seconds.
jest.setTimeout(120_000);

const CONTROL_SECRET = 'some-secret';
const UNKNOWN_FIELD = 'unexpected_field';
/** Large, but the whole body stays well under the body limit (a 413 is not what is tested). */
const UNBOUNDED_STRING_LENGTH = 100_000;
/** Query strings travel in the request line, which Node caps at 16 KiB with the headers. */
const OVERSIZED_QUERY_LENGTH = 8_000;
/**
 * Ids that are not uuids, as they appear in the path. The router itself refuses the last two
 * (a segment over its length limit, a malformed %-escape) before any DTO sees them, so only
 * the others can be blamed on the parameter by name.
 */
const NON_UUID_IDS: ReadonlyArray<{ label: string; inPath: string; reachesDto: boolean }> = [
  { label: 'not-a-uuid', inPath: 'not-a-uuid', reachesDto: true },
  { label: 'a number', inPath: '123', reachesDto: true },
  { label: 'a uuid with a suffix', inPath: `${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}x`, reachesDto: true },
  { label: 'a 5000-character string', inPath: 'x'.repeat(5000), reachesDto: false },
  { label: 'a malformed %-escape', inPath: '%E0%A4%A', reachesDto: false },
  { label: 'a uuid with a NUL', inPath: `${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}%00`, reachesDto: true },
  // Encoded lone surrogates are not UTF-8: the router refuses them like any undecodable escape.
  {
    label: 'a uuid with a lone high surrogate',
    inPath: `${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}%ED%A0%80`,
    reachesDto: false,
  },
  {
    label: 'a uuid with a lone low surrogate',
    inPath: `${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}%ED%B0%80`,
    reachesDto: false,
  },
];
/**
 * Text PostgreSQL cannot store (NUL) and that is not text at all (lone UTF-16 surrogates): refused
 * wherever a client can put a string, keys of free-form objects included. JSON.stringify sends
 * them as \u escapes; in a query string a lone surrogate can only be sent as the escapes of
 * its (invalid) UTF-8 bytes.
 */
const UNSAFE_TEXT: ReadonlyArray<{ label: string; char: string; inQuery: string }> = [
  { label: 'a NUL', char: '\u0000', inQuery: '%00' },
  { label: 'a lone high surrogate', char: '\ud800', inQuery: '%ED%A0%80' },
  { label: 'a lone low surrogate', char: '\udc00', inQuery: '%ED%B0%80' },
];
/** The name the hub gives a key holding one of UNSAFE_TEXT: the character escaped, never echoed. */
const escapedKey = (prefix: string, char: string): string =>
  `${prefix}\\u${(char.codePointAt(0) as number).toString(16).padStart(4, '0')}`;
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

type JsonType = 'string' | 'number' | 'boolean' | 'array' | 'object' | 'null';
const JSON_TYPES: readonly JsonType[] = ['string', 'number', 'boolean', 'array', 'object', 'null'];

/** Strings that read like a value of another type: the sharper test that nothing coerces them. */
const LOOKALIKE_STRINGS: Partial<Record<JsonType, string>> = {
  number: '12345',
  boolean: 'true',
  array: '[]',
  object: '{}',
};

/** A value of JSON type `type`, sent where a field of type `expected` belongs. */
function valueOfType(type: JsonType, expected: JsonType): unknown {
  switch (type) {
    case 'string':
      return LOOKALIKE_STRINGS[expected] ?? 'a string';
    case 'number':
      return 12345;
    case 'boolean':
      return true;
    case 'array':
      return ['a string'];
    case 'object':
      return { nested: 'a string' };
    case 'null':
      return null;
  }
}

/** What the sweep knows about one validated property of a DTO, read from class-validator. */
interface FieldModel {
  name: string;
  /** The one JSON type its validators accept; null when they declare none (or disagree). */
  type: JsonType | null;
  optional: boolean;
  uuid: boolean;
  email: boolean;
  isoDate: boolean;
  allowed: readonly unknown[] | null;
  minLength: number | null;
  maxLength: number | null;
  minimum: number | null;
}

interface DtoModel {
  name: string;
  fields: FieldModel[];
}

/** What a route takes, from its handler's parameter decorators and their DTO classes. */
interface RouteInputs {
  route: RouteEntry;
  /** The DTO validating the path parameters, if any. */
  params: DtoModel | null;
  /** The DTO validating the body; null when the route declares no validated body. */
  body: DtoModel | null;
  /** The DTO validating the query string; null when the route declares none. */
  query: DtoModel | null;
  /** Problems with the model itself (a field of no declared type, an input shape the sweep cannot model). */
  problems: string[];
}

type ValidationMetadata = ReturnType<ReturnType<typeof getMetadataStorage>['getTargetValidationMetadatas']>[number];

/** The JSON type each built-in class-validator rule implies (the rule rejects every other type). */
const TYPE_OF_RULE: Readonly<Record<string, JsonType>> = {
  isString: 'string',
  isUuid: 'string',
  isEmail: 'string',
  isIso8601: 'string',
  isDateString: 'string',
  matches: 'string',
  isLength: 'string',
  minLength: 'string',
  maxLength: 'string',
  isBoolean: 'boolean',
  isInt: 'number',
  isNumber: 'number',
  min: 'number',
  max: 'number',
  isObject: 'object',
  isNotEmptyObject: 'object',
  isArray: 'array',
  arrayMinSize: 'array',
  arrayMaxSize: 'array',
  arrayNotEmpty: 'array',
};

/**
 * The JSON types a custom rule (e.g. @ValidateBy in a feature library) accepts, found by asking
 * the rule itself about one plain value of each type. A rule that accepts most of them says
 * nothing about the type (it checks something else), so it yields null.
 */
function typesAcceptedByCustomRule(rule: ValidationMetadata, dto: Type): JsonType[] | null {
  const constraint = getFromContainer<ValidatorConstraintInterface>(rule.constraintCls);
  const plain: Record<JsonType, unknown> = { string: 'x', number: 1, boolean: true, array: [], object: {}, null: null };
  const accepted = JSON_TYPES.filter((type) => {
    const args: ValidationArguments = {
      value: plain[type],
      constraints: rule.constraints,
      targetName: dto.name,
      object: {},
      property: rule.propertyName,
    };
    return constraint.validate(plain[type], args) === true;
  });
  return accepted.length > 0 && accepted.length < JSON_TYPES.length - 1 ? accepted : null;
}

function modelField(dto: Type, name: string, rules: ValidationMetadata[]): FieldModel {
  const named = (ruleName: string): ValidationMetadata | undefined => rules.find((r) => r.name === ruleName && !r.each);
  let candidates: JsonType[] | null = null;
  const narrow = (types: JsonType[]): void => {
    candidates = candidates ? candidates.filter((t) => types.includes(t)) : types;
  };
  for (const rule of rules) {
    // Rules applied to each element say nothing about the field's own type.
    if (rule.each || rule.type === ValidationTypes.CONDITIONAL_VALIDATION || rule.type === ValidationTypes.WHITELIST) {
      continue;
    }
    if (rule.name === 'isIn') {
      narrow([
        ...new Set(
          (rule.constraints[0] as unknown[]).map((v) =>
            v === null ? 'null' : Array.isArray(v) ? 'array' : (typeof v as JsonType),
          ),
        ),
      ]);
    } else if (rule.name && TYPE_OF_RULE[rule.name]) {
      narrow([TYPE_OF_RULE[rule.name] as JsonType]);
    } else if (rule.type === ValidationTypes.CUSTOM_VALIDATION) {
      const types = typesAcceptedByCustomRule(rule, dto);
      if (types) {
        narrow(types);
      }
    }
  }
  const types = candidates as JsonType[] | null;
  const length = named('isLength');
  return {
    name,
    type: types?.length === 1 ? (types[0] as JsonType) : null,
    optional: rules.some((r) => r.type === ValidationTypes.CONDITIONAL_VALIDATION),
    uuid: named('isUuid') !== undefined,
    email: named('isEmail') !== undefined,
    isoDate: named('isIso8601') !== undefined,
    allowed: (named('isIn')?.constraints[0] as unknown[] | undefined) ?? null,
    minLength:
      (length?.constraints[0] as number | undefined) ??
      (named('minLength')?.constraints[0] as number | undefined) ??
      null,
    maxLength:
      (length?.constraints[1] as number | undefined) ??
      (named('maxLength')?.constraints[0] as number | undefined) ??
      null,
    minimum: (named('min')?.constraints[0] as number | undefined) ?? null,
  };
}

/** The validated properties of a DTO class, or null when class-validator knows no rules for it. */
function modelDto(dto: unknown): DtoModel | null {
  if (typeof dto !== 'function') {
    return null;
  }
  const rules = getMetadataStorage().getTargetValidationMetadatas(dto, '', true, false);
  if (rules.length === 0) {
    return null;
  }
  const byField = new Map<string, ValidationMetadata[]>();
  for (const rule of rules) {
    byField.set(rule.propertyName, [...(byField.get(rule.propertyName) ?? []), rule]);
  }
  return {
    name: dto.name,
    fields: [...byField].map(([name, fieldRules]) => modelField(dto as Type, name, fieldRules)),
  };
}

/** One entry of Nest's ROUTE_ARGS_METADATA: which handler argument, and the property it picks (if any). */
interface RouteArg {
  index: number;
  data?: unknown;
}

/** Reads the handler's @Body / @Query / @Param declarations, as Nest's router does. */
function modelRoute(route: RouteEntry, controller: Type): RouteInputs {
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, route.handler) ?? {}) as Record<string, RouteArg>;
  const paramTypes = (Reflect.getMetadata('design:paramtypes', controller.prototype as object, route.handler) ??
    []) as unknown[];
  const inputs: RouteInputs = { route, params: null, body: null, query: null, problems: [] };
  const slots = new Map<number, 'params' | 'body' | 'query'>([
    [RouteParamtypes.PARAM, 'params'],
    [RouteParamtypes.BODY, 'body'],
    [RouteParamtypes.QUERY, 'query'],
  ]);
  for (const [key, arg] of Object.entries(args)) {
    // Keys are `${RouteParamtypes}:${index}` (custom decorators such as @CurrentPrincipal() have others).
    const slot = slots.get(Number(key.split(':')[0]));
    if (!slot) {
      continue;
    }
    if (arg.data !== undefined) {
      inputs.problems.push(
        `@${slot}(${JSON.stringify(arg.data)}) takes a single property; the sweep models whole-object DTOs only`,
      );
      continue;
    }
    // Without a DTO (e.g. a type class-validator has no rules for) the route
    // takes no validated input there; the sweep then sends fields it must refuse.
    inputs[slot] = modelDto(paramTypes[arg.index]);
  }
  for (const dto of [inputs.params, inputs.body, inputs.query]) {
    for (const field of dto?.fields ?? []) {
      if (!field.type) {
        inputs.problems.push(`${dto?.name ?? '?'}.${field.name} declares no single JSON type`);
      }
    }
  }
  return inputs;
}

/** A value the field's rules accept (the other fields of a request are valid, so only the one under test is wrong). */
function validValue(field: FieldModel): unknown {
  if (field.allowed) {
    return field.allowed[0];
  }
  switch (field.type) {
    case 'string':
      if (field.uuid) {
        return randomUUID();
      }
      if (field.email) {
        return 'someone@example.com';
      }
      if (field.isoDate) {
        return '2099-01-01T00:00:00Z';
      }
      return 'x'.repeat(Math.max(1, field.minLength ?? 1));
    case 'number':
      return field.minimum ?? 1;
    case 'boolean':
      return false;
    case 'array':
      return [];
    case 'object':
      return {};
    default:
      return null;
  }
}

/** The DTO's required fields with valid values: the rest of a request whose one part is under test. */
const requiredValues = (dto: DtoModel | null): Record<string, unknown> =>
  Object.fromEntries((dto?.fields ?? []).filter((f) => !f.optional).map((f) => [f.name, validValue(f)]));

const validQuery = (inputs: RouteInputs): Record<string, string> =>
  Object.fromEntries(Object.entries(requiredValues(inputs.query)).map(([name, value]) => [name, String(value)]));

/** A valid body for a route that takes one (so a case about the path or the query fails on that alone). */
const validBody = (inputs: RouteInputs): { body?: { json: unknown } } =>
  BODY_METHODS.has(inputs.route.method) && inputs.body ? { body: { json: requiredValues(inputs.body) } } : {};

/** A valid string with `char` in it, still within the field's maximum length. */
const withUnsafe = (valid: string, char: string, max: number | null): string =>
  max === null || valid.length < max ? `${valid}${char}` : `${char}${valid.slice(1)}`;

const oversizedString = (field: FieldModel, unbounded: number): string =>
  'x'.repeat(field.maxLength !== null ? field.maxLength + 1 : unbounded);

interface SweepCase {
  route: string;
  what: string;
  method: string;
  /** Path parameters by name; any left out get a fresh valid uuid. */
  pathParams?: Record<string, string>;
  /** Query parameters; an array value repeats the parameter. */
  query?: Record<string, string | string[]>;
  /** Appended to the query string as it is (already %-encoded), for text URLSearchParams cannot encode. */
  rawQuery?: string;
  body?: { json: unknown } | { raw: string; contentType: string };
  /** The field the 400 must name in details.fields, when the case is about one field. */
  blame?: string;
}

/** Every path parameter filled: the given ones as they are (already path text), the rest with fresh uuids (valid, and of nothing). */
function pathFor(route: RouteEntry, given: Record<string, string> = {}): string {
  return route.path.replace(/:([A-Za-z0-9_]+)/g, (_match, name: string) => given[name] ?? randomUUID());
}

const pathParamNames = (route: RouteEntry): string[] =>
  [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1] as string);

function pathCases(inputs: RouteInputs): SweepCase[] {
  const { route } = inputs;
  return pathParamNames(route).flatMap((name) =>
    NON_UUID_IDS.map(({ label, inPath, reachesDto }) => ({
      route: route.key,
      what: `path :${name} is ${label}`,
      method: route.method,
      pathParams: { [name]: inPath },
      query: validQuery(inputs),
      ...validBody(inputs),
      ...(reachesDto && inputs.params?.fields.some((f) => f.name === name) ? { blame: name } : {}),
    })),
  );
}

function bodyCases(inputs: RouteInputs): SweepCase[] {
  const { route } = inputs;
  if (!BODY_METHODS.has(route.method)) {
    return [];
  }
  const at = (what: string, json: unknown, blame?: string): SweepCase => ({
    route: route.key,
    what,
    method: route.method,
    query: validQuery(inputs),
    body: { json },
    ...(blame ? { blame } : {}),
  });
  const baseline = requiredValues(inputs.body);
  // A route without a body DTO (none declared) must refuse any field at all.
  const cases: SweepCase[] = [
    at('body with an unknown field', { ...baseline, [UNKNOWN_FIELD]: 'x' }, inputs.body ? UNKNOWN_FIELD : undefined),
    at('body is a JSON array', inputs.body ? [baseline] : []),
    at('body is a JSON string', 'a string'),
    at('body is a JSON number', 42),
    at('body is a JSON boolean', true),
  ];
  for (const field of inputs.body?.fields ?? []) {
    const withField = (what: string, value: unknown): SweepCase =>
      at(`body.${field.name} ${what}`, { ...baseline, [field.name]: value }, field.name);
    // null is a wrong type too: an optional field is left out, not sent as null.
    for (const type of JSON_TYPES) {
      if (field.type && type !== field.type) {
        cases.push(withField(`is a ${type} (expects ${field.type})`, valueOfType(type, field.type)));
      }
    }
    if (field.type === 'string') {
      cases.push(
        withField(
          `is oversized (max ${field.maxLength ?? 'unbounded'})`,
          oversizedString(field, UNBOUNDED_STRING_LENGTH),
        ),
      );
    }
    if (field.uuid) {
      cases.push(withField('is not a uuid', 'not-a-uuid'));
    }
    if (field.allowed) {
      cases.push(withField('is not one of the allowed values', 'not-an-allowed-value'));
    }
    if (field.type === 'array') {
      cases.push(withField('has an element of the wrong type', [12345]));
    }
    for (const { label, char } of UNSAFE_TEXT) {
      if (field.type === 'string') {
        cases.push(withField(`contains ${label}`, withUnsafe(String(validValue(field)), char, field.maxLength)));
      }
      if (field.type === 'array') {
        cases.push(withField(`has a string element containing ${label}`, [`a${char}b`]));
      }
      if (field.type === 'object') {
        cases.push(
          withField(`has a key containing ${label}`, { [`k${char}`]: 'v' }),
          withField(`has a value containing ${label}`, { note: `a${char}b` }),
          withField(`has a nested key containing ${label}`, { list: [{ [`k${char}`]: 1 }] }),
        );
      }
    }
  }
  // The body's own keys: an unknown one would be refused anyway, so this one is the only field sent.
  for (const { label, char } of UNSAFE_TEXT) {
    if (inputs.body) {
      cases.push(at(`body has a key containing ${label}`, { ...baseline, [`k${char}`]: 'x' }, escapedKey('k', char)));
    }
  }
  return cases;
}

function queryCases(inputs: RouteInputs): SweepCase[] {
  const { route } = inputs;
  const baseline = validQuery(inputs);
  const at = (what: string, query: Record<string, string | string[]>, blame?: string): SweepCase => ({
    route: route.key,
    what,
    method: route.method,
    query,
    ...validBody(inputs),
    ...(blame ? { blame } : {}),
  });
  // Every route gets this one: a route that declares no query DTO must refuse any parameter.
  const cases = [
    at('an unknown query parameter', { ...baseline, [UNKNOWN_FIELD]: 'x' }, inputs.query ? UNKNOWN_FIELD : undefined),
  ];
  for (const field of inputs.query?.fields ?? []) {
    const withField = (what: string, value: string | string[]): SweepCase =>
      at(`query ${field.name} ${what}`, { ...baseline, [field.name]: value }, field.name);
    const valid = String(validValue(field));
    // In a query string every value is text; the wrong types are repetition (an array) and text that is not the type.
    cases.push(withField('is repeated (an array)', [valid, valid]));
    for (const { label, inQuery } of UNSAFE_TEXT) {
      const others = Object.fromEntries(Object.entries(baseline).filter(([name]) => name !== field.name));
      cases.push({
        ...withField(`contains ${label}`, []),
        query: others,
        rawQuery: `${encodeURIComponent(field.name)}=${encodeURIComponent(valid)}${inQuery}`,
      });
    }
    if (field.type === 'number') {
      cases.push(
        withField('is not a number', 'abc'),
        withField('is a boolean', 'true'),
        withField('is a fraction', '1.5'),
      );
    }
    if (field.type === 'boolean') {
      cases.push(withField('is not a boolean', 'abc'));
    }
    if (field.uuid) {
      cases.push(withField('is not a uuid', 'not-a-uuid'));
    }
    if (field.allowed) {
      cases.push(withField('is not one of the allowed values', 'not-an-allowed-value'));
    }
    cases.push(
      withField(
        'is oversized',
        field.type === 'number'
          ? '9'.repeat(400)
          : field.type === 'string'
            ? oversizedString(field, OVERSIZED_QUERY_LENGTH)
            : 'x'.repeat(OVERSIZED_QUERY_LENGTH),
      ),
    );
  }
  return cases;
}

interface Reply {
  status: number;
  contentType: string;
  text: string;
}

/** Why a reply is not a proper 400 validation_failed (naming the blamed field), or null when it is. */
function whyNotValidationFailure(reply: Reply, blame: string | undefined): string | null {
  if (reply.status !== 400) {
    return `status ${reply.status}`;
  }
  const problem = whyNotErrorBody(reply);
  if (problem) {
    return problem;
  }
  const { error } = JSON.parse(reply.text) as {
    error: { code: string; details?: { fields?: Array<{ field?: unknown }> } };
  };
  if (error.code !== (ErrorCode.ValidationFailed as string)) {
    return `code ${error.code}`;
  }
  if (blame !== undefined) {
    const fields = Array.isArray(error.details?.fields) ? error.details.fields.map((f) => f.field) : [];
    if (!fields.some((f) => f === blame || (typeof f === 'string' && f.startsWith(`${blame}.`)))) {
      return `does not name ${blame} (names ${JSON.stringify(fields)})`;
    }
  }
  return null;
}

/** Why a reply is not `{"error": {"code", "message", "details"?}, "request_id"}` with the status its code maps to. */
function whyNotErrorBody(reply: Reply): string | null {
  if (!reply.contentType.startsWith('application/json')) {
    return `content-type ${reply.contentType || 'none'}`;
  }
  let body: unknown;
  try {
    body = JSON.parse(reply.text);
  } catch {
    return 'body is not JSON';
  }
  const error = (body as { error?: Record<string, unknown> } | null)?.error;
  if (!error || Object.keys(body as object).length !== 2) {
    return 'body is not {"error": …, "request_id"}';
  }
  if (typeof (body as { request_id?: unknown }).request_id !== 'string') {
    return 'request_id is not a string';
  }
  if (!Object.keys(error).every((k) => ['code', 'message', 'details'].includes(k))) {
    return `error has other keys: ${Object.keys(error).join(', ')}`;
  }
  if (typeof error['message'] !== 'string') {
    return 'error.message is not a string';
  }
  const code = error['code'] as ErrorCode;
  if (!Object.values(ErrorCode).includes(code)) {
    return `unknown code ${JSON.stringify(code)}`;
  }
  if (ERROR_HTTP_STATUS[code] !== reply.status) {
    return `code ${code} with status ${reply.status}`;
  }
  return null;
}

describe(`bad input on every route (${testDatabaseKind()})`, () => {
  let hub: HubTestServer;
  let home: BootstrapResult;
  let routes: RouteInputs[];
  /** The token each route is called with: the least privileged of ours that passes its guard. */
  const tokenFor = new Map<string, string | null>();

  async function send(sweepCase: SweepCase, route: RouteEntry): Promise<Reply> {
    const url = new URL(`${hub.base}${pathFor(route, sweepCase.pathParams)}`);
    for (const [name, value] of Object.entries(sweepCase.query ?? {})) {
      for (const one of Array.isArray(value) ? value : [value]) {
        url.searchParams.append(name, one);
      }
    }
    if (sweepCase.rawQuery) {
      url.search = url.search ? `${url.search}&${sweepCase.rawQuery}` : `?${sweepCase.rawQuery}`;
    }
    const token = tokenFor.get(route.key) ?? null;
    const headers: Record<string, string> = {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      // The local control routes are public; LocalControlGuard checks this header.
      ...(route.access.kind === 'public' ? { 'x-marvain-control': CONTROL_SECRET } : {}),
    };
    let payload: string | undefined;
    if (sweepCase.body && 'json' in sweepCase.body) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(sweepCase.body.json);
      // A 413 would not say anything about validation: keep every body under the limit.
      if (Buffer.byteLength(payload) >= BODY_LIMIT_BYTES) {
        throw new Error(`${sweepCase.route}: ${sweepCase.what} is over the body limit`);
      }
    } else if (sweepCase.body) {
      headers['content-type'] = sweepCase.body.contentType;
      payload = sweepCase.body.raw;
    }
    const response = await fetch(url, {
      method: sweepCase.method,
      headers,
      ...(payload !== undefined ? { body: payload } : {}),
    });
    return {
      status: response.status,
      contentType: response.headers.get('content-type') ?? '',
      text: await response.text(),
    };
  }

  /** Sends every case (a few at a time) and returns the ones not answered with a proper 400, one line each. */
  async function sweep(cases: SweepCase[]): Promise<string[]> {
    const byKey = new Map(routes.map((r) => [r.route.key, r.route]));
    const failures: string[] = [];
    const concurrency = 8;
    for (let i = 0; i < cases.length; i += concurrency) {
      const batch = cases.slice(i, i + concurrency);
      const replies = await Promise.all(batch.map((c) => send(c, byKey.get(c.route) as RouteEntry)));
      for (const [j, reply] of replies.entries()) {
        const sweepCase = batch[j] as SweepCase;
        const why = whyNotValidationFailure(reply, sweepCase.blame);
        if (why) {
          failures.push(`${sweepCase.route} | ${sweepCase.what} | ${why} | ${reply.text.slice(0, 160)}`);
        }
      }
    }
    return failures;
  }

  beforeAll(async () => {
    hub = await openHubTestServer({ localControlSecret: CONTROL_SECRET });
    home = await hub.bootstrap('Forge', 'home');

    const controllers = new Map<string, Type>();
    for (const module of hub.app.get(ModulesContainer).values()) {
      for (const wrapper of module.controllers.values()) {
        if (wrapper.metatype) {
          controllers.set(wrapper.metatype.name, wrapper.metatype as Type);
        }
      }
    }
    routes = routeTable(hub.app).map((route) => modelRoute(route, controllers.get(route.controller) as Type));

    const scopesOf = async (token: string): Promise<string[]> => {
      const me = (await hub.call('GET', '/v1/me', token)).json as { agents: Array<{ scopes: string[] }> };
      return me.agents.flatMap((a) => a.scopes);
    };
    const principals = [
      { token: home.device_token, scopes: await scopesOf(home.device_token) },
      { token: home.user_token, scopes: await scopesOf(home.user_token) },
    ];
    for (const { route } of routes) {
      const access = route.access;
      const token =
        access.kind === 'public'
          ? null
          : access.kind === 'scope'
            ? (principals.find((p) => hasScope(p.scopes, access.scope))?.token ?? null)
            : home.user_token;
      tokenFor.set(route.key, token);
    }
  });

  afterAll(() => hub.close());

  it('models what every route in the route table takes, and can call each one', () => {
    expect(routes.length).toBeGreaterThan(20);
    const problems = routes.flatMap((r) => [
      ...r.problems.map((p) => `${r.route.key}: ${p}`),
      ...(r.route.access.kind === 'scope' && tokenFor.get(r.route.key) === null
        ? [`${r.route.key}: no test principal holds ${r.route.access.scope}`]
        : []),
      ...(r.route.access.kind === 'undeclared' ? [`${r.route.key}: declares no access`] : []),
    ]);
    expect(problems).toEqual([]);
    // Every route yields cases: a route with nothing to sweep would be a hole in the sweep.
    const empty = routes
      .filter((r) => [...pathCases(r), ...bodyCases(r), ...queryCases(r)].length === 0)
      .map((r) => r.route.key);
    expect(empty).toEqual([]);
  });

  it('answers a malformed JSON body (400) and a body that is not JSON (415) on a write route of each controller', async () => {
    // The first route of each controller that takes a body.
    const writeRoutes = [
      ...new Map(
        routes
          .filter((r) => BODY_METHODS.has(r.route.method))
          .reverse()
          .map((r) => [r.route.controller, r.route]),
      ).values(),
    ];
    expect(writeRoutes.length).toBeGreaterThan(5);
    const cases: Array<{ what: string; body: { raw: string; contentType: string }; status: number; code: ErrorCode }> =
      [
        {
          what: 'malformed JSON',
          body: { raw: '{"a":', contentType: 'application/json' },
          status: 400,
          code: ErrorCode.ValidationFailed,
        },
        {
          what: 'malformed JSON (with a charset)',
          body: { raw: '{"a":', contentType: 'application/json; charset=utf-8' },
          status: 400,
          code: ErrorCode.ValidationFailed,
        },
        {
          what: 'text/plain',
          body: { raw: 'hello', contentType: 'text/plain' },
          status: 415,
          code: ErrorCode.UnsupportedMediaType,
        },
        {
          what: 'JSON sent as text/plain',
          body: { raw: '{}', contentType: 'text/plain' },
          status: 415,
          code: ErrorCode.UnsupportedMediaType,
        },
        {
          what: 'XML',
          body: { raw: '<a/>', contentType: 'application/xml' },
          status: 415,
          code: ErrorCode.UnsupportedMediaType,
        },
      ];
    const failures: string[] = [];
    for (const route of writeRoutes) {
      for (const { what, body, status, code } of cases) {
        const reply = await send({ route: route.key, what, method: route.method, body }, route);
        const why =
          reply.status !== status
            ? `status ${reply.status}`
            : (whyNotErrorBody(reply) ??
              ((JSON.parse(reply.text) as { error: { code: string } }).error.code !== (code as string)
                ? `not ${code}`
                : null));
        if (why) {
          failures.push(`${route.key} | ${what} | ${why} | ${reply.text.slice(0, 160)}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('answers every path parameter that is not a uuid (NUL and lone surrogates included) with 400 validation_failed', async () => {
    const cases = routes.flatMap(pathCases);
    expect(cases.length).toBeGreaterThan(0);
    expect(await sweep(cases)).toEqual([]);
  });

  it('answers every bad body (unknown field, wrong type, oversized string, not an object, NUL or lone surrogates) with 400 validation_failed', async () => {
    const cases = routes.flatMap(bodyCases);
    expect(cases.length).toBeGreaterThan(0);
    expect(await sweep(cases)).toEqual([]);
  });

  it('answers every bad query string (unknown parameter, wrong type, oversized value, NUL or lone surrogates) with 400 validation_failed', async () => {
    const cases = routes.flatMap(queryCases);
    expect(cases.length).toBeGreaterThan(0);
    expect(await sweep(cases)).toEqual([]);
  });

  it('created and changed nothing: no request above got past validation', async () => {
    const get = async (path: string): Promise<unknown> => (await hub.call('GET', path, home.user_token)).json;
    expect(await get('/v1/agents')).toEqual({
      agents: [expect.objectContaining({ agent_id: home.agent_id, name: 'Forge', disabled: false, role: 'owner' })],
      next_cursor: null,
    });
    expect(await get(`/v1/agents/${home.agent_id}/devices`)).toEqual({
      devices: [expect.objectContaining({ device_id: home.device_id, revoked_at: null })],
      next_cursor: null,
    });
    expect(await get(`/v1/agents/${home.agent_id}/spaces`)).toEqual({
      spaces: [expect.objectContaining({ space_id: home.space_id, name: 'home' })],
      next_cursor: null,
    });
  });
});
