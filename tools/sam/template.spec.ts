// Validates template.yaml offline: against the CloudFormation resource specification
// (@aws-cdk/aws-service-spec) and the SAM specification (./sam-spec.ts), its references, the Lambda
// bundle contract, least-privilege IAM, and the stack's durability and wiring rules.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { intrinsicOf, isObject, parseCfnYaml, type Json, type JsonObject } from './cfn-yaml';
import { loadSpec, resourceSpec, validatePassThrough, validateProperties, type SpecDatabase } from './cfn-spec';
import { PSEUDO_PARAMETERS, RESOURCE_ATTRIBUTES, SAM_SPEC, TEMPLATE_SECTIONS } from './sam-spec';
import { referencedResources, walkIntrinsics, type TemplateReference } from './template-refs';

const ROOT = path.resolve(__dirname, '../..');
// MARVAIN_SAM_TEMPLATE points the checks at another file (used to confirm they catch broken templates).
const source = readFileSync(process.env['MARVAIN_SAM_TEMPLATE'] ?? path.join(ROOT, 'template.yaml'), 'utf8');
const { template, problems: parseProblems } = parseCfnYaml(source);

const asObject = (value: Json | undefined): JsonObject => (isObject(value) ? value : {});
const asList = (value: Json | undefined): Json[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
/** A scalar as text; anything else (a mapping, a list, nothing) as ''. */
const text = (value: Json | undefined): string =>
  typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';

const resources = asObject(template['Resources']) as Record<string, JsonObject>;
const parameters = asObject(template['Parameters']) as Record<string, JsonObject>;
const conditions = asObject(template['Conditions']);
const mappings = asObject(template['Mappings']);
const outputs = asObject(template['Outputs']) as Record<string, JsonObject>;
const globals = asObject(template['Globals']);
const resourceIds: ReadonlySet<string> = new Set(Object.keys(resources));

const typeOf = (id: string): string => text(resources[id]?.['Type']);
const propsOf = (id: string): JsonObject => asObject(resources[id]?.['Properties']);
const idsOfType = (type: string): string[] => Object.keys(resources).filter((id) => typeOf(id) === type);

/** A reference's single target when `value` is exactly `!Ref X` or `!GetAtt X.attr`. */
function directTarget(value: Json | undefined): { target: string; attribute?: string } | undefined {
  const intrinsic = intrinsicOf(value);
  if (intrinsic?.fn === 'Ref' && typeof intrinsic.arg === 'string') {
    return { target: intrinsic.arg };
  }
  if (intrinsic?.fn === 'Fn::GetAtt' && Array.isArray(intrinsic.arg)) {
    const [target, attribute] = intrinsic.arg;
    if (typeof target === 'string' && typeof attribute === 'string') {
      return { target, attribute };
    }
  }
  return undefined;
}

/** The parameter's default when `value` is `!Ref <parameter>`; otherwise `value` itself. */
function resolveLiteral(value: Json | undefined): Json | undefined {
  const target = directTarget(value);
  if (target && !target.attribute && target.target in parameters) {
    return parameters[target.target]?.['Default'];
  }
  return value;
}

// ------------------------------------------------------------------------------ SAM Globals

/** SAM's Globals merge: mappings merge key by key, lists concatenate (globals first), scalars are overridden. */
function mergeGlobals(base: Json | undefined, own: Json | undefined): Json | undefined {
  if (own === undefined) {
    return base;
  }
  if (base === undefined) {
    return own;
  }
  if (isObject(base) && isObject(own) && !intrinsicOf(base) && !intrinsicOf(own)) {
    const merged: JsonObject = { ...base };
    for (const [key, value] of Object.entries(own)) {
      merged[key] = mergeGlobals(base[key], value) as Json;
    }
    return merged;
  }
  if (Array.isArray(base) && Array.isArray(own)) {
    return [...base, ...own];
  }
  return own;
}

/** A SAM resource's properties after Globals are applied. */
function effectiveProps(id: string): JsonObject {
  const sam = SAM_SPEC[typeOf(id)];
  const section = sam?.globals ? asObject(globals[sam.globals.section]) : {};
  return asObject(mergeGlobals(section, propsOf(id)));
}

// ------------------------------------------------------------------------------ contracts

const BUNDLES = ['http', 'ws', 'planner', 'tool-runner', 'maintenance'] as const;
type Bundle = (typeof BUNDLES)[number];

const CONTRACT_ENV = [
  'MARVAIN_RUNTIME',
  'MARVAIN_DB_CLUSTER_ARN',
  'MARVAIN_DB_SECRET_ARN',
  'MARVAIN_DB_NAME',
  'MARVAIN_TRANSCRIPT_QUEUE_URL',
  'MARVAIN_ACTION_QUEUE_URL',
  'MARVAIN_AUDIT_BUCKET',
  'MARVAIN_AUDIT_LOCK_MODE',
  'MARVAIN_AUDIT_RETENTION_DAYS',
  'MARVAIN_CONNECTIONS_TABLE',
  'MARVAIN_WS_ENDPOINT',
  'MARVAIN_ARTIFACT_BUCKET',
  'MARVAIN_COGNITO_USER_POOL_ID',
  'MARVAIN_COGNITO_CLIENT_ID',
  'MARVAIN_LOG_LEVEL',
  'MARVAIN_STREAM_RETENTION_DAYS',
  // Also read by the hub: must equal the queues' redrive maxReceiveCount.
  'MARVAIN_QUEUE_MAX_RECEIVES',
  // The http function's LiveKit settings: the stack's secret, read at a cold start.
  'LIVEKIT_SECRET_ARN',
] as const;

/**
 * What every entry needs at start-up: each boots the whole hub application, whose configuration
 * (libs/platform/src/config/hub-config.ts) requires these with MARVAIN_RUNTIME=aws, and whose
 * identity module (libs/identity/src/identity.module.ts) needs the Cognito ids to verify user tokens.
 */
const REQUIRED_EVERYWHERE = [
  'MARVAIN_RUNTIME',
  'MARVAIN_DB_CLUSTER_ARN',
  'MARVAIN_DB_SECRET_ARN',
  'MARVAIN_TRANSCRIPT_QUEUE_URL',
  'MARVAIN_ACTION_QUEUE_URL',
  'MARVAIN_AUDIT_BUCKET',
  'MARVAIN_CONNECTIONS_TABLE',
  'MARVAIN_WS_ENDPOINT',
  'MARVAIN_COGNITO_USER_POOL_ID',
  'MARVAIN_COGNITO_CLIENT_ID',
] as const;

const FUNCTION_CONTRACT: Record<Bundle, { memory?: number; timeout: number }> = {
  http: { memory: 1024, timeout: 29 },
  ws: { memory: 1024, timeout: 29 },
  planner: { timeout: 60 },
  'tool-runner': { timeout: 60 },
  maintenance: { timeout: 60 },
};

const functionIds = idsOfType('AWS::Serverless::Function');

function bundleOf(functionId: string): Bundle | undefined {
  const codeUri = effectiveProps(functionId)['CodeUri'];
  if (typeof codeUri !== 'string') {
    return undefined;
  }
  const normalised = codeUri.replace(/^\.\//, '').replace(/\/+$/, '');
  return BUNDLES.find((bundle) => normalised === `dist/lambda/${bundle}`);
}

function functionFor(bundle: Bundle): string {
  const id = functionIds.find((candidate) => bundleOf(candidate) === bundle);
  if (!id) {
    throw new Error(`no function has CodeUri dist/lambda/${bundle}/`);
  }
  return id;
}

function envOf(functionId: string): JsonObject {
  return asObject(asObject(effectiveProps(functionId)['Environment'])['Variables']);
}

function eventsOf(functionId: string): Array<{ name: string; type: string; props: JsonObject }> {
  return Object.entries(asObject(effectiveProps(functionId)['Events'])).map(([name, event]) => ({
    name,
    type: text(asObject(event)['Type']),
    props: asObject(asObject(event)['Properties']),
  }));
}

/** Queues a function consumes through SQS event sources. */
function consumedQueues(functionId: string): string[] {
  return eventsOf(functionId)
    .filter((event) => event.type === 'SQS')
    .map((event) => directTarget(event.props['Queue'])?.target)
    .filter((target): target is string => target !== undefined);
}

// ------------------------------------------------------------------------------ IAM

interface Statement {
  effect: string;
  actions: string[];
  resources: Json[];
  raw: JsonObject;
  where: string;
}

function roleOf(functionId: string): string | undefined {
  const role = directTarget(effectiveProps(functionId)['Role']);
  return role?.attribute === 'Arn' ? role.target : undefined;
}

/** Every statement attached to a role: its inline policies plus IAM policy resources that name it. */
function statementsOf(roleId: string): Statement[] {
  const documents: Array<{ document: Json; where: string }> = [];
  asList(propsOf(roleId)['Policies']).forEach((policy, index) => {
    documents.push({ document: asObject(policy)['PolicyDocument'] as Json, where: `${roleId}.Policies[${index}]` });
  });
  for (const id of [...idsOfType('AWS::IAM::Policy'), ...idsOfType('AWS::IAM::ManagedPolicy')]) {
    const roles = asList(propsOf(id)['Roles']).map((role) => directTarget(role)?.target);
    if (roles.includes(roleId)) {
      documents.push({ document: propsOf(id)['PolicyDocument'] as Json, where: id });
    }
  }
  return documents.flatMap(({ document, where }) =>
    asList(asObject(document)['Statement']).map((statement, index) => {
      const raw = asObject(statement);
      return {
        effect: text(raw['Effect']),
        actions: asList(raw['Action']).map(String),
        resources: asList(raw['Resource']),
        raw,
        where: `${where}.Statement[${index}]${typeof raw['Sid'] === 'string' ? ` (${raw['Sid']})` : ''}`,
      };
    }),
  );
}

/**
 * Actions without resource-level permissions, which IAM only accepts on "*": X-Ray tracing,
 * custom CloudWatch metrics, and the network-interface lookup of a Lambda inside a VPC. None is
 * granted today (no tracing, no custom metrics, no VPC), so no statement has a "*" resource.
 */
const ACTIONS_REQUIRING_STAR: ReadonlySet<string> = new Set([
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  'cloudwatch:PutMetricData',
  'ec2:DescribeNetworkInterfaces',
]);

/** Which resource types a service's actions may name, and (where one resource serves two services) through which attribute. */
const SERVICE_TARGETS: Record<string, Record<string, string | undefined>> = {
  logs: { 'AWS::Logs::LogGroup': 'Arn' },
  'rds-data': { 'AWS::RDS::DBCluster': 'DBClusterArn' },
  secretsmanager: { 'AWS::RDS::DBCluster': 'MasterUserSecret.SecretArn', 'AWS::SecretsManager::Secret': undefined },
  sqs: { 'AWS::SQS::Queue': 'Arn' },
  s3: { 'AWS::S3::Bucket': 'Arn' },
  dynamodb: { 'AWS::DynamoDB::Table': 'Arn' },
  'execute-api': { 'AWS::ApiGatewayV2::Api': undefined, 'AWS::Serverless::Api': undefined },
};

const SQS_CONSUME_ACTIONS: ReadonlySet<string> = new Set([
  'sqs:ReceiveMessage',
  'sqs:DeleteMessage',
  'sqs:ChangeMessageVisibility',
  'sqs:GetQueueAttributes',
]);

/** A statement resource as text: `X.Attr` for GetAtt, `X` for Ref, a Sub's text without the ARN prefix and braces. */
function describeResource(value: Json): string {
  const direct = directTarget(value);
  if (direct) {
    return direct.attribute ? `${direct.target}.${direct.attribute}` : direct.target;
  }
  const sub = intrinsicOf(value);
  if (sub?.fn === 'Fn::Sub' && typeof sub.arg === 'string') {
    return sub.arg
      .replace(/^arn:\$\{AWS::Partition\}:[\w-]+:\$\{AWS::Region\}:\$\{AWS::AccountId\}:/, '')
      .replace(/\$\{([^}]+)\}/g, '$1');
  }
  return JSON.stringify(value);
}

/**
 * The reviewed grants, per function, as "action resource". They follow the AWS adapters in
 * libs/platform-aws: the Data API with its secret; SendMessage where the function enqueues
 * (REST: events and approvals; WebSocket: send_event / push_transcript); what an SQS event source
 * mapping needs on the queue a worker consumes (failed records are reported, not re-hidden); the
 * audit sink's PutObject (with Object Lock retention and If-None-Match), GetObject and
 * ListObjectsV2; the connection store (libs/platform-aws/src/dynamo-connection-store.ts): every
 * function that commits a broadcastable change queries the agent_subscribers index and, when a push
 * answers GoneException, queries the connection's items and deletes them; ws also stores
 * connections and subscriptions (Query, GetItem, PutItem) and asks principal_connections whether a
 * closing connection was the principal's last; http asks it for the connections a revocation
 * closes, and both close connections (DeleteConnection: a revocation, a hello past the cap).
 * Nobody calls `touch` on AWS (a connection's expiry is API Gateway's two-hour limit), so nobody
 * has UpdateItem. PostToConnection; logs in the function's own group.
 * Device commands: ws records a device's cmd.result and a command's hand-off (audited), the
 * tool-runner sends a device_command action's command to its device's connections
 * (principal_connections), and maintenance expires commands (audited, their actions failed).
 * Maintenance writes presence transitions, so it fans them out like the workers.
 * LiveKit: http reads the stack's LiveKit secret at a cold start (libs/platform-aws/src/livekit-secret.ts).
 */
function expectedGrants(bundle: Bundle, logGroup: string): string[] {
  const dataApi = [
    'ExecuteStatement',
    'BatchExecuteStatement',
    'BeginTransaction',
    'CommitTransaction',
    'RollbackTransaction',
  ]
    .map((action) => `rds-data:${action} AuroraCluster.DBClusterArn`)
    .concat('secretsmanager:GetSecretValue AuroraCluster.MasterUserSecret.SecretArn');
  const logs = [`logs:CreateLogStream ${logGroup}.Arn`, `logs:PutLogEvents ${logGroup}.Arn`];
  const audit = ['s3:PutObject', 's3:PutObjectRetention', 's3:GetObject']
    .map((action) => `${action} AuditBucket.Arn/*`)
    .concat('s3:ListBucket AuditBucket.Arn');
  const table = (actions: string[]): string[] => actions.map((action) => `dynamodb:${action} ConnectionsTable.Arn`);
  const consume = (queue: string): string[] =>
    ['ReceiveMessage', 'DeleteMessage', 'GetQueueAttributes'].map((action) => `sqs:${action} ${queue}.Arn`);
  const push = ['execute-api:ManageConnections WebSocketApi/Stage/POST/@connections/*'];
  const close = ['execute-api:ManageConnections WebSocketApi/Stage/DELETE/@connections/*'];
  const index = (name: string): string => `dynamodb:Query ConnectionsTable.Arn/index/${name}`;
  const connectionsBroadcast = [...table(['Query', 'DeleteItem']), index('agent_subscribers')];
  const byBundle: Record<Bundle, string[]> = {
    http: [
      ...dataApi,
      'secretsmanager:GetSecretValue LivekitSecret',
      'sqs:SendMessage TranscriptQueue.Arn',
      'sqs:SendMessage ActionQueue.Arn',
      ...audit,
      ...connectionsBroadcast,
      index('principal_connections'),
      ...push,
      ...close,
    ],
    ws: [
      ...dataApi,
      'sqs:SendMessage TranscriptQueue.Arn',
      ...audit,
      ...connectionsBroadcast,
      ...table(['GetItem', 'PutItem']),
      index('principal_connections'),
      ...push,
      ...close,
    ],
    planner: [...dataApi, ...consume('TranscriptQueue'), ...audit, ...connectionsBroadcast, ...push],
    'tool-runner': [
      ...dataApi,
      ...consume('ActionQueue'),
      ...audit,
      ...connectionsBroadcast,
      index('principal_connections'),
      ...push,
    ],
    maintenance: [...dataApi, ...audit, ...connectionsBroadcast, ...push],
  };
  return [...logs, ...byBundle[bundle]].sort();
}

// ------------------------------------------------------------------------------ tests

describe('template.yaml', () => {
  let db: SpecDatabase;
  beforeAll(() => {
    db = loadSpec();
  });

  it('parses with the intrinsic-function tags and no YAML errors or warnings', () => {
    expect(parseProblems).toEqual([]);
    expect(template['AWSTemplateFormatVersion']).toBe('2010-09-09');
    expect(template['Transform']).toBe('AWS::Serverless-2016-10-31');
    expect(Object.keys(template).filter((section) => !TEMPLATE_SECTIONS.has(section))).toEqual([]);
    expect(Object.keys(resources).length).toBeGreaterThan(20);
  });

  describe('(a) resource types and properties exist in the specifications', () => {
    it('every AWS::* type and property (nested literal ones too) is in the CloudFormation resource specification, required ones present', () => {
      const problems: string[] = [];
      let checked = 0;
      for (const [id, resource] of Object.entries(resources)) {
        const type = text(resource['Type']);
        for (const key of Object.keys(resource)) {
          if (!RESOURCE_ATTRIBUTES.has(key)) {
            problems.push(`${id}: unknown resource attribute ${key}`);
          }
        }
        if (type.startsWith('AWS::Serverless::')) {
          continue;
        }
        const spec = resourceSpec(db, type);
        if (!spec) {
          problems.push(`${id}: ${type} is not in the CloudFormation resource specification`);
          continue;
        }
        checked += 1;
        problems.push(...validateProperties(db, spec, resource['Properties'], id));
      }
      expect(problems).toEqual([]);
      expect(checked).toBeGreaterThan(15);
    });

    it('every AWS::Serverless::* type and property is in the SAM specification, required ones present, events included', () => {
      const problems: string[] = [];
      for (const [id, resource] of Object.entries(resources)) {
        const type = text(resource['Type']);
        if (!type.startsWith('AWS::Serverless::')) {
          continue;
        }
        const sam = SAM_SPEC[type];
        if (!sam) {
          problems.push(`${id}: ${type} is not in the encoded SAM specification`);
          continue;
        }
        const props = effectiveProps(id);
        for (const name of Object.keys(propsOf(id))) {
          if (!sam.properties.includes(name)) {
            problems.push(`${id}: unknown property ${name}`);
          }
        }
        for (const name of sam.required) {
          if (!(name in props)) {
            problems.push(`${id}: required property ${name} is missing`);
          }
        }
        const generated = resourceSpec(db, sam.generates);
        if (generated) {
          problems.push(...validatePassThrough(db, generated, props, sam.passThrough, id));
        }
        for (const event of eventsOf(id)) {
          const eventSpec = sam.events?.[event.type];
          if (!eventSpec) {
            problems.push(
              `${id}.Events.${event.name}: event type ${event.type} is not in the encoded SAM specification`,
            );
            continue;
          }
          for (const name of Object.keys(event.props)) {
            if (!eventSpec.properties.includes(name)) {
              problems.push(`${id}.Events.${event.name}: unknown property ${name}`);
            }
          }
          for (const name of eventSpec.required) {
            if (!(name in event.props)) {
              problems.push(`${id}.Events.${event.name}: required property ${name} is missing`);
            }
          }
          const target = eventSpec.passThrough && resourceSpec(db, eventSpec.passThrough.type);
          if (eventSpec.passThrough && !target) {
            problems.push(`${id}.Events.${event.name}: ${eventSpec.passThrough.type} is not in the specification`);
          }
          if (eventSpec.passThrough && target) {
            problems.push(
              ...validatePassThrough(
                db,
                target,
                event.props,
                eventSpec.passThrough.properties,
                `${id}.Events.${event.name}`,
              ),
            );
          }
        }
      }
      for (const [section, values] of Object.entries(globals)) {
        const sam = Object.values(SAM_SPEC).find((candidate) => candidate.globals?.section === section);
        if (!sam?.globals) {
          problems.push(`Globals.${section} is not a SAM Globals section`);
          continue;
        }
        for (const name of Object.keys(asObject(values))) {
          if (!sam.globals.properties.includes(name)) {
            problems.push(`Globals.${section}.${name} is not allowed in Globals`);
          }
        }
      }
      expect(problems).toEqual([]);
    });

    it('the encoded SAM resources generate CloudFormation types that exist, and cover what the package knows of them', () => {
      for (const [type, sam] of Object.entries(SAM_SPEC)) {
        expect(resourceSpec(db, sam.generates)).toBeDefined();
        // The package carries an older copy of the SAM resources; everything it lists must be in ours.
        const packaged = resourceSpec(db, type);
        if (packaged) {
          expect(Object.keys(packaged.properties).filter((name) => !sam.properties.includes(name))).toEqual([]);
        }
      }
    });
  });

  describe('(b) every Ref, GetAtt and Sub target exists', () => {
    const walked = walkIntrinsics(
      { Resources: resources, Outputs: outputs, Conditions: conditions, Globals: globals },
      'template',
    );

    /** Attributes Fn::GetAtt may read from a resource: the spec's, or for SAM types those of the resource SAM generates. */
    function attributesOf(spec: SpecDatabase, id: string): ReadonlySet<string> | undefined {
      const type = typeOf(id);
      const generated = SAM_SPEC[type]?.generates ?? type;
      return resourceSpec(spec, generated)?.attributes;
    }

    function referenceProblem(reference: TemplateReference): string | undefined {
      const where = `${reference.path}: ${reference.kind} ${reference.target}${reference.attribute ? `.${reference.attribute}` : ''}`;
      if (reference.attribute === undefined) {
        if (
          PSEUDO_PARAMETERS.has(reference.target) ||
          reference.target in parameters ||
          resourceIds.has(reference.target)
        ) {
          return undefined;
        }
        return `${where} names no resource, parameter or pseudo parameter`;
      }
      if (!resourceIds.has(reference.target)) {
        return `${where} names no resource`;
      }
      const attributes = attributesOf(db, reference.target);
      if (!attributes?.has(reference.attribute)) {
        return `${where}: ${typeOf(reference.target)} has no attribute ${reference.attribute}`;
      }
      return undefined;
    }

    it('references name resources, parameters or pseudo parameters, and GetAtt attributes exist for the type', () => {
      expect(walked.problems).toEqual([]);
      expect(walked.references.map(referenceProblem).filter(Boolean)).toEqual([]);
      expect(walked.references.filter((reference) => reference.kind === 'Sub').length).toBeGreaterThan(5);
      expect(walked.references.filter((reference) => reference.kind === 'GetAtt').length).toBeGreaterThan(10);
    });

    it('Conditions refer only to parameters and other conditions', () => {
      const inConditions = walkIntrinsics(conditions, 'Conditions');
      expect(
        inConditions.references
          .filter((reference) => !(reference.target in parameters) && !PSEUDO_PARAMETERS.has(reference.target))
          .map((r) => r.path),
      ).toEqual([]);
      expect(inConditions.conditionUses.filter((use) => !(use.name in conditions)).map((use) => use.path)).toEqual([]);
    });

    it('condition names (Fn::If, Condition attributes) and DependsOn targets exist; FindInMap names a mapping', () => {
      const missing = walked.conditionUses
        .filter((use) => !(use.name in conditions))
        .map((use) => `${use.path}: ${use.name}`);
      for (const [id, resource] of Object.entries(resources)) {
        const condition = resource['Condition'];
        if (condition !== undefined && !(text(condition) in conditions)) {
          missing.push(`${id}.Condition: ${JSON.stringify(condition)}`);
        }
        for (const dependency of asList(resource['DependsOn'])) {
          if (!resourceIds.has(text(dependency))) {
            missing.push(`${id}.DependsOn: ${JSON.stringify(dependency)}`);
          }
        }
      }
      for (const lookup of walked.mapLookups) {
        const [map] = asList(lookup.map);
        if (typeof map === 'string' && !(map in mappings)) {
          missing.push(`${lookup.path}: mapping ${map}`);
        }
      }
      expect(missing).toEqual([]);
    });

    it('the resources have no circular dependencies (Ref, GetAtt, Sub and DependsOn, Globals applied)', () => {
      const edges = new Map<string, Set<string>>();
      for (const id of resourceIds) {
        const props = SAM_SPEC[typeOf(id)] ? effectiveProps(id) : propsOf(id);
        const dependsOn = asList(resources[id]?.['DependsOn']).map(text);
        edges.set(id, new Set([...referencedResources(props, resourceIds), ...dependsOn]));
      }
      const state = new Map<string, 'visiting' | 'done'>();
      const cycles: string[] = [];
      const visit = (id: string, trail: string[]): void => {
        if (state.get(id) === 'done') {
          return;
        }
        if (state.get(id) === 'visiting') {
          cycles.push([...trail.slice(trail.indexOf(id)), id].join(' -> '));
          return;
        }
        state.set(id, 'visiting');
        for (const next of edges.get(id) ?? []) {
          visit(next, [...trail, id]);
        }
        state.set(id, 'done');
      };
      for (const id of resourceIds) {
        visit(id, []);
      }
      expect(cycles).toEqual([]);
    });

    it('a conditional resource is referenced only where its condition holds', () => {
      const problems: string[] = [];
      for (const reference of walked.references) {
        const condition = resources[reference.target]?.['Condition'];
        if (condition === undefined) {
          continue;
        }
        // Paths read template.<Section>.<LogicalId>...: the resource or output that holds the reference.
        const owner = reference.path.split('.')[2] ?? '';
        const ownerCondition = resources[owner]?.['Condition'] ?? outputs[owner]?.['Condition'];
        if (![...reference.conditions, ownerCondition].includes(condition)) {
          problems.push(`${reference.path} uses ${reference.target} outside condition ${JSON.stringify(condition)}`);
        }
      }
      expect(problems).toEqual([]);
    });
  });

  describe('(c) every function runs one of the five bundles the build emits', () => {
    it('the functions are exactly http, ws, planner, tool-runner and maintenance, each with Handler index.handler', () => {
      expect(functionIds.map(bundleOf).sort()).toEqual([...BUNDLES].sort());
      for (const id of functionIds) {
        const props = effectiveProps(id);
        expect({ id, handler: props['Handler'], packageType: props['PackageType'] ?? 'Zip' }).toEqual({
          id,
          handler: 'index.handler',
          packageType: 'Zip',
        });
      }
    });

    for (const bundle of BUNDLES) {
      const file = path.join(ROOT, 'dist', 'lambda', bundle, 'index.js');
      const built = existsSync(file);
      const title = built
        ? `dist/lambda/${bundle}/index.js exports a handler function`
        : `dist/lambda/${bundle}/index.js: not built yet, so only the template side is checked (run npm run build to check the export)`;
      it(title, () => {
        const id = functionFor(bundle);
        expect(effectiveProps(id)['Handler']).toBe('index.handler');
        if (!built) {
          return;
        }
        // Load the bundle in a fresh process with placeholder configuration, as Lambda would (module scope only; no invocation).
        const env: NodeJS.ProcessEnv = {
          PATH: process.env['PATH'],
          AWS_REGION: 'us-east-1',
          AWS_DEFAULT_REGION: 'us-east-1',
        };
        for (const [name, value] of Object.entries(envOf(id))) {
          env[name] = typeof value === 'string' ? value : placeholderFor(name);
        }
        const probe = `const m = require(${JSON.stringify(file)}); process.stdout.write(typeof m.handler); process.exit(0);`;
        const run = spawnSync(process.execPath, ['-e', probe], { env, encoding: 'utf8', timeout: 30_000 });
        expect({ status: run.status, exported: run.stdout, stderr: run.status === 0 ? '' : run.stderr }).toEqual({
          status: 0,
          exported: 'function',
          stderr: '',
        });
      });
    }
  });

  describe('(d) least privilege: each role names only what its function uses', () => {
    it('every function has its own role, assumable by Lambda only, with no managed policies or SAM policy templates', () => {
      const roles = functionIds.map(roleOf);
      expect(roles.every((role) => role !== undefined && typeOf(role) === 'AWS::IAM::Role')).toBe(true);
      expect(new Set(roles).size).toBe(functionIds.length);
      for (const id of functionIds) {
        const role = roleOf(id) as string;
        expect({ id, policies: propsOf(id)['Policies'], managed: propsOf(role)['ManagedPolicyArns'] }).toEqual({
          id,
          policies: undefined,
          managed: undefined,
        });
        const trust = asList(asObject(propsOf(role)['AssumeRolePolicyDocument'])['Statement']).map(asObject);
        expect(trust).toEqual([
          { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ]);
      }
    });

    for (const bundle of BUNDLES) {
      it(`${bundle}: every statement names only resources the function is configured with, no "*" and no wildcard actions`, () => {
        const id = functionFor(bundle);
        const props = effectiveProps(id);
        const events = asObject(props['Events']);
        // "Uses": what the function's environment, event sources and log configuration point at.
        const uses = new Set([
          ...referencedResources(props['Environment'], resourceIds),
          ...referencedResources(events, resourceIds),
          ...referencedResources(props['LoggingConfig'], resourceIds),
        ]);
        const consumed = new Set(consumedQueues(id));
        const fromEnv = referencedResources(props['Environment'], resourceIds);
        const problems: string[] = [];
        const statements = statementsOf(roleOf(id) as string);
        expect(statements.length).toBeGreaterThan(0);
        for (const statement of statements) {
          const { where, actions, resources: targets } = statement;
          if (statement.effect !== 'Allow') {
            problems.push(`${where}: only Allow statements are expected`);
          }
          for (const key of ['NotAction', 'NotResource', 'NotPrincipal']) {
            if (key in statement.raw) {
              problems.push(`${where}: ${key} is not allowed`);
            }
          }
          if (actions.length === 0 || targets.length === 0) {
            problems.push(`${where}: needs Action and Resource`);
          }
          for (const action of actions) {
            if (action.includes('*')) {
              problems.push(`${where}: wildcard action ${action}`);
            }
          }
          for (const target of targets) {
            if (target === '*') {
              const needless = actions.filter((action) => !ACTIONS_REQUIRING_STAR.has(action));
              if (needless.length > 0) {
                problems.push(
                  `${where}: "*" resource for ${needless.join(', ')}, which support resource-level permissions`,
                );
              }
              continue;
            }
            if (typeof target === 'string') {
              problems.push(`${where}: literal resource ${target} is not tied to a resource of this template`);
              continue;
            }
            const named = walkIntrinsics(target, where).references.filter((reference) =>
              resourceIds.has(reference.target),
            );
            if (named.length === 0) {
              problems.push(`${where}: resource ${JSON.stringify(target)} names no resource of this template`);
            }
            for (const reference of named) {
              const type = typeOf(reference.target);
              if (!uses.has(reference.target)) {
                problems.push(`${where}: ${reference.target} is not used by ${id}`);
              }
              for (const action of actions) {
                const service = action.split(':')[0] ?? '';
                const allowed = SERVICE_TARGETS[service];
                if (!allowed || !(type in allowed)) {
                  problems.push(`${where}: ${action} on ${type} ${reference.target}`);
                  continue;
                }
                const attribute = allowed[type];
                if (attribute !== undefined && reference.attribute !== attribute) {
                  problems.push(
                    `${where}: ${action} must name ${reference.target}.${attribute}, not ${reference.attribute ?? 'its Ref'}`,
                  );
                }
                if (SQS_CONSUME_ACTIONS.has(action) && !consumed.has(reference.target)) {
                  problems.push(`${where}: ${action} on ${reference.target}, which is not an event source of ${id}`);
                }
                if (action === 'sqs:SendMessage' && !fromEnv.has(reference.target)) {
                  problems.push(`${where}: ${action} on ${reference.target}, whose URL ${id} is not given`);
                }
              }
            }
          }
        }
        expect(problems).toEqual([]);
      });

      it(`${bundle}: the role grants exactly the reviewed actions, nothing more and nothing less`, () => {
        const id = functionFor(bundle);
        const logGroup = directTarget(asObject(effectiveProps(id)['LoggingConfig'])['LogGroup'])?.target;
        expect(typeOf(logGroup ?? '')).toBe('AWS::Logs::LogGroup');
        const granted = statementsOf(roleOf(id) as string).flatMap((statement) =>
          statement.actions.flatMap((action) =>
            statement.resources.map((resource) => `${action} ${describeResource(resource)}`),
          ),
        );
        expect([...new Set(granted)].sort()).toEqual(expectedGrants(bundle, logGroup as string));
      });
    }
  });

  describe('(e) durability and wiring', () => {
    const auditBucket = directTarget(outputs['AuditBucketName']?.['Value'])?.target ?? '';
    const artifactBucket = directTarget(outputs['ArtifactBucketName']?.['Value'])?.target ?? '';

    it('all outputs the issue lists exist, including both dead-letter queue URLs', () => {
      const expected = [
        'ApiUrl',
        'WebSocketUrl',
        'ClusterArn',
        'SecretArn',
        'DatabaseName',
        'ArtifactBucketName',
        'AuditBucketName',
        'TranscriptQueueUrl',
        'ActionQueueUrl',
        'UserPoolId',
        'UserPoolClientId',
        'HostedUiDomain',
        'TranscriptDeadLetterQueueUrl',
        'ActionDeadLetterQueueUrl',
      ];
      expect(expected.filter((name) => outputs[name]?.['Value'] === undefined)).toEqual([]);
      expect(directTarget(outputs['ClusterArn']?.['Value'])).toEqual({
        target: 'AuroraCluster',
        attribute: 'DBClusterArn',
      });
      expect(directTarget(outputs['SecretArn']?.['Value'])).toEqual({
        target: 'AuroraCluster',
        attribute: 'MasterUserSecret.SecretArn',
      });
      expect(typeOf(auditBucket)).toBe('AWS::S3::Bucket');
      expect(typeOf(artifactBucket)).toBe('AWS::S3::Bucket');
    });

    it('the audit bucket has Object Lock on with a default GOVERNANCE retention of at least 3650 days, versioning, and is retained', () => {
      const bucket = resources[auditBucket] as JsonObject;
      const props = propsOf(auditBucket);
      expect(bucket['DeletionPolicy']).toBe('Retain');
      expect(bucket['UpdateReplacePolicy']).toBe('Retain');
      expect(props['ObjectLockEnabled']).toBe(true);
      expect(asObject(props['VersioningConfiguration'])['Status']).toBe('Enabled');
      const lock = asObject(props['ObjectLockConfiguration']);
      expect(lock['ObjectLockEnabled']).toBe('Enabled');
      const retention = asObject(asObject(lock['Rule'])['DefaultRetention']);
      expect(retention['Mode']).toBe('GOVERNANCE');
      const days =
        Number(resolveLiteral(retention['Days']) ?? 0) || Number(resolveLiteral(retention['Years']) ?? 0) * 365;
      expect(days).toBeGreaterThanOrEqual(3650);
      // A parameter cannot be overridden below ten years either.
      const parameter = directTarget(retention['Days'])?.target;
      if (parameter) {
        expect(Number(parameters[parameter]?.['MinValue'])).toBeGreaterThanOrEqual(3650);
      }
      // The hub writes with the same mode and retention the bucket enforces.
      for (const id of functionIds) {
        const env = envOf(id);
        if (!('MARVAIN_AUDIT_BUCKET' in env)) {
          continue;
        }
        expect(directTarget(env['MARVAIN_AUDIT_BUCKET'])?.target).toBe(auditBucket);
        expect(env['MARVAIN_AUDIT_LOCK_MODE']).toBe(retention['Mode']);
        expect(env['MARVAIN_AUDIT_RETENTION_DAYS']).toEqual(retention['Days']);
      }
    });

    it('both buckets are retained, encrypted and block public access', () => {
      for (const id of [auditBucket, artifactBucket]) {
        expect(resources[id]?.['DeletionPolicy']).toBe('Retain');
        expect(resources[id]?.['UpdateReplacePolicy']).toBe('Retain');
        expect(propsOf(id)['BucketEncryption']).toBeDefined();
        expect(propsOf(id)['PublicAccessBlockConfiguration']).toEqual({
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        });
      }
    });

    it('every queue either is a dead-letter queue or redrives to one after 5 receives, with a visibility timeout of at least 6x its consumer timeout', () => {
      const queues = idsOfType('AWS::SQS::Queue');
      const deadLetterTargets = new Set<string>();
      for (const id of queues) {
        const redrive = propsOf(id)['RedrivePolicy'];
        if (redrive === undefined) {
          continue;
        }
        const target = directTarget(asObject(redrive)['deadLetterTargetArn']);
        expect({ id, target, maxReceiveCount: Number(asObject(redrive)['maxReceiveCount']) }).toEqual({
          id,
          target: { target: expect.any(String) as string, attribute: 'Arn' },
          maxReceiveCount: 5,
        });
        // The workers count receives the same way SQS does before it redrives.
        for (const fn of functionIds) {
          expect(Number(envOf(fn)['MARVAIN_QUEUE_MAX_RECEIVES'])).toBe(5);
        }
        if (target) {
          deadLetterTargets.add(target.target);
        }
      }
      for (const target of deadLetterTargets) {
        expect(typeOf(target)).toBe('AWS::SQS::Queue');
      }
      expect(queues.filter((id) => propsOf(id)['RedrivePolicy'] === undefined && !deadLetterTargets.has(id))).toEqual(
        [],
      );
      const consumers = functionIds.flatMap((fn) => consumedQueues(fn).map((queue) => ({ fn, queue })));
      expect(consumers.length).toBe(2);
      for (const { fn, queue } of consumers) {
        expect(deadLetterTargets.has(queue)).toBe(false);
        expect(propsOf(queue)['RedrivePolicy']).toBeDefined();
        const visibility = Number(resolveLiteral(propsOf(queue)['VisibilityTimeout']) ?? 30);
        expect({ queue, fn, visibility }).toEqual({ queue, fn, visibility: expect.any(Number) as number });
        expect(visibility).toBeGreaterThanOrEqual(6 * Number(effectiveProps(fn)['Timeout'] ?? 3));
      }
    });

    it('every function runs nodejs22.x on one architecture, with the contract memory and timeouts', () => {
      for (const bundle of BUNDLES) {
        const props = effectiveProps(functionFor(bundle));
        const contract = FUNCTION_CONTRACT[bundle];
        expect({
          bundle,
          runtime: props['Runtime'],
          architectures: props['Architectures'],
          timeout: props['Timeout'],
        }).toEqual({
          bundle,
          runtime: 'nodejs22.x',
          architectures: ['arm64'],
          timeout: contract.timeout,
        });
        if (contract.memory !== undefined) {
          expect(props['MemorySize']).toBe(contract.memory);
        }
      }
    });

    it('environment variables are contract names, and point at the right resources', () => {
      const wsStage = idsOfType('AWS::ApiGatewayV2::Stage')[0] as string;
      const wsApi = directTarget(propsOf(wsStage)['ApiId'])?.target as string;
      const stageName = directTarget(propsOf(wsStage)['StageName'])?.target;
      for (const id of functionIds) {
        const env = envOf(id);
        expect(Object.keys(env).filter((name) => !(CONTRACT_ENV as readonly string[]).includes(name))).toEqual([]);
        expect(REQUIRED_EVERYWHERE.filter((name) => !(name in env))).toEqual([]);
        expect(directTarget(env['MARVAIN_COGNITO_USER_POOL_ID'])?.target).toBe(idsOfType('AWS::Cognito::UserPool')[0]);
        expect(directTarget(env['MARVAIN_COGNITO_CLIENT_ID'])?.target).toBe(
          idsOfType('AWS::Cognito::UserPoolClient')[0],
        );
        expect(env['MARVAIN_RUNTIME']).toBe('aws');
        expect(directTarget(env['MARVAIN_DB_CLUSTER_ARN'])).toEqual({
          target: 'AuroraCluster',
          attribute: 'DBClusterArn',
        });
        expect(directTarget(env['MARVAIN_DB_SECRET_ARN'])).toEqual({
          target: 'AuroraCluster',
          attribute: 'MasterUserSecret.SecretArn',
        });
        expect(env['MARVAIN_DB_NAME']).toEqual(propsOf('AuroraCluster')['DatabaseName']);
        expect(directTarget(env['MARVAIN_LOG_LEVEL'])).toEqual({ target: 'LogLevel' });
        expect(directTarget(env['MARVAIN_CONNECTIONS_TABLE'])?.target).toBe(idsOfType('AWS::DynamoDB::Table')[0]);
        expect(env['MARVAIN_WS_ENDPOINT']).toEqual({
          'Fn::Sub': `https://\${${wsApi}}.execute-api.\${AWS::Region}.\${AWS::URLSuffix}/\${${stageName ?? ''}}`,
        });
      }
      const transcript = consumedQueues(functionFor('planner'))[0];
      const actions = consumedQueues(functionFor('tool-runner'))[0];
      for (const id of functionIds) {
        const env = envOf(id);
        if ('MARVAIN_TRANSCRIPT_QUEUE_URL' in env) {
          expect(directTarget(env['MARVAIN_TRANSCRIPT_QUEUE_URL'])?.target).toBe(transcript);
        }
        if ('MARVAIN_ACTION_QUEUE_URL' in env) {
          expect(directTarget(env['MARVAIN_ACTION_QUEUE_URL'])?.target).toBe(actions);
        }
      }
      expect(directTarget(outputs['TranscriptQueueUrl']?.['Value'])?.target).toBe(transcript);
      expect(directTarget(outputs['ActionQueueUrl']?.['Value'])?.target).toBe(actions);
    });

    it('http serves the REST API root and {proxy+} with ANY; the SQS consumers report partial batch failures', () => {
      const http = eventsOf(functionFor('http'));
      expect(http.map((event) => [event.type, event.props['Path'], event.props['Method']]).sort()).toEqual([
        ['Api', '/', 'ANY'],
        ['Api', '/{proxy+}', 'ANY'],
      ]);
      for (const event of http) {
        expect(typeOf(directTarget(event.props['RestApiId'])?.target ?? '')).toBe('AWS::Serverless::Api');
      }
      for (const bundle of ['planner', 'tool-runner'] as const) {
        const events = eventsOf(functionFor(bundle));
        expect(events.map((event) => [event.type, event.props['FunctionResponseTypes']])).toEqual([
          ['SQS', ['ReportBatchItemFailures']],
        ]);
      }
      expect(consumedQueues(functionFor('planner'))).not.toEqual(consumedQueues(functionFor('tool-runner')));
    });

    it('LiveKit settings live in a secret the stack creates empty, which only the http function names and may read', () => {
      const secrets = idsOfType('AWS::SecretsManager::Secret');
      expect(secrets).toEqual(['LivekitSecret']);
      // Empty values: the stack deploys without LiveKit; the operator fills the secret in.
      expect(JSON.parse(text(propsOf('LivekitSecret')['SecretString']))).toEqual({
        url: '',
        api_key: '',
        api_secret: '',
      });
      expect(propsOf('LivekitSecret')).not.toHaveProperty('GenerateSecretString');
      expect(outputs['LivekitSecretArn']?.['Value']).toEqual({ Ref: 'LivekitSecret' });

      expect(envOf(functionFor('http'))['LIVEKIT_SECRET_ARN']).toEqual({ Ref: 'LivekitSecret' });
      for (const id of functionIds) {
        // The values are read at run time, never put in a function's configuration.
        const names = Object.keys(envOf(id)).filter((name) => name.startsWith('LIVEKIT_'));
        expect({ id, names }).toEqual({ id, names: id === functionFor('http') ? ['LIVEKIT_SECRET_ARN'] : [] });
        // One narrow statement, on the http role only: GetSecretValue on that secret.
        const grants = statementsOf(roleOf(id) as string).filter((statement) =>
          JSON.stringify(statement.resources).includes('LivekitSecret'),
        );
        expect({
          id,
          grants: grants.map((statement) => [statement.effect, statement.actions, statement.resources]),
        }).toEqual({
          id,
          grants:
            id === functionFor('http')
              ? [['Allow', ['secretsmanager:GetSecretValue'], [{ Ref: 'LivekitSecret' }]]]
              : [],
        });
      }
    });

    it('maintenance runs every minute on a schedule, with the stream retention the hub is configured with', () => {
      const id = functionFor('maintenance');
      expect(eventsOf(id).map((event) => [event.type, event.props['Schedule']])).toEqual([
        ['Schedule', 'rate(1 minute)'],
      ]);
      const retention = directTarget(envOf(id)['MARVAIN_STREAM_RETENTION_DAYS'])?.target ?? '';
      expect(parameters[retention]).toMatchObject({ Type: 'Number', Default: 7, MinValue: 1, MaxValue: 3650 });
    });

    it('the WebSocket API routes $connect, $disconnect and $default to ws, with a stage, a deployment and an invoke permission', () => {
      const apis = idsOfType('AWS::ApiGatewayV2::Api');
      expect(apis).toHaveLength(1);
      const api = apis[0] as string;
      expect(propsOf(api)).toMatchObject({ ProtocolType: 'WEBSOCKET', RouteSelectionExpression: '$request.body.type' });
      const ws = functionFor('ws');
      const routes = idsOfType('AWS::ApiGatewayV2::Route');
      expect(routes.map((id) => propsOf(id)['RouteKey']).sort()).toEqual(['$connect', '$default', '$disconnect']);
      for (const route of routes) {
        expect(directTarget(propsOf(route)['ApiId'])?.target).toBe(api);
        const integration = walkIntrinsics(propsOf(route)['Target'], route).references.map(
          (reference) => reference.target,
        );
        expect(integration).toHaveLength(1);
        const integrationProps = propsOf(integration[0] as string);
        expect(integrationProps['IntegrationType']).toBe('AWS_PROXY');
        expect([...referencedResources(integrationProps['IntegrationUri'], resourceIds)]).toEqual([ws]);
      }
      const deployments = idsOfType('AWS::ApiGatewayV2::Deployment');
      expect(deployments).toHaveLength(1);
      expect(asList(resources[deployments[0] as string]?.['DependsOn']).map(String)).toEqual(
        expect.arrayContaining(routes),
      );
      const stage = idsOfType('AWS::ApiGatewayV2::Stage')[0] as string;
      expect(directTarget(propsOf(stage)['DeploymentId'])?.target).toBe(deployments[0]);
      const permissions = idsOfType('AWS::Lambda::Permission').map(propsOf);
      expect(permissions).toContainEqual(
        expect.objectContaining({
          FunctionName: { Ref: ws },
          Principal: 'apigateway.amazonaws.com',
          Action: 'lambda:InvokeFunction',
        }),
      );
    });

    it('the connections table is on-demand, keyed by (connection_id, item_id), with TTL on expires_at', () => {
      const tables = idsOfType('AWS::DynamoDB::Table');
      expect(tables).toHaveLength(1);
      expect(propsOf(tables[0] as string)).toMatchObject({
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'connection_id', KeyType: 'HASH' },
          { AttributeName: 'item_id', KeyType: 'RANGE' },
        ],
        TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      });
    });

    it('the connections table has the indexes the store queries, with the attributes its filters read', () => {
      // As libs/platform-aws/src/dynamo-connection-store.ts queries them: fan-out reads whole
      // subscription items from agent_subscribers; principal_connections filters on expires_at.
      const props = propsOf('ConnectionsTable');
      expect(props['GlobalSecondaryIndexes']).toStrictEqual([
        {
          IndexName: 'agent_subscribers',
          KeySchema: [
            { AttributeName: 'agent_id', KeyType: 'HASH' },
            { AttributeName: 'connection_id', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
        {
          IndexName: 'principal_connections',
          KeySchema: [
            { AttributeName: 'principal_key', KeyType: 'HASH' },
            { AttributeName: 'connection_id', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['expires_at'] },
        },
      ]);
      // Exactly the key attributes are defined (CloudFormation refuses a defined attribute no key uses).
      const keyAttributes = new Set(
        [props['KeySchema'], ...asList(props['GlobalSecondaryIndexes']).map((i) => asObject(i)['KeySchema'])]
          .flatMap((schema) => asList(schema))
          .map((key) => text(asObject(key)['AttributeName'])),
      );
      expect(
        asList(props['AttributeDefinitions'])
          .map(
            (definition) =>
              `${text(asObject(definition)['AttributeName'])}:${text(asObject(definition)['AttributeType'])}`,
          )
          .sort(),
      ).toEqual([...keyAttributes].map((name) => `${name}:S`).sort());
    });

    it('every IAM grant on a table index names an index that table has', () => {
      const indexes = new Set(
        asList(propsOf('ConnectionsTable')['GlobalSecondaryIndexes']).map((i) => text(asObject(i)['IndexName'])),
      );
      const problems: string[] = [];
      for (const role of idsOfType('AWS::IAM::Role')) {
        for (const statement of statementsOf(role)) {
          for (const resource of statement.resources) {
            const named = /^ConnectionsTable\.Arn\/index\/(.+)$/.exec(describeResource(resource))?.[1];
            if (named !== undefined && !indexes.has(named)) {
              problems.push(`${statement.where}: no index ${named} on ConnectionsTable`);
            }
          }
        }
      }
      expect(problems).toEqual([]);
    });

    it('Aurora is PostgreSQL Serverless v2 with the Data API, a managed secret and a version that supports Data API and scaling to 0 ACUs', () => {
      const cluster = propsOf('AuroraCluster');
      expect(cluster).toMatchObject({
        Engine: 'aurora-postgresql',
        EnableHttpEndpoint: true,
        ManageMasterUserPassword: true,
      });
      const version = text(resolveLiteral(cluster['EngineVersion']));
      const [major, minor] = version.split('.').map(Number) as [number, number];
      // Minimum minor per major: Data API for Serverless v2 (Aurora user guide, "Supported Regions and Aurora DB
      // engines for RDS Data API") and a 0 ACU minimum with auto-pause ("Aurora Serverless v2 capacity").
      const dataApi: Record<number, number> = { 13: 11, 14: 8, 15: 3, 16: 1, 17: 4 };
      const autoPause: Record<number, number> = { 13: 15, 14: 12, 15: 7, 16: 3, 17: 4 };
      expect(minor).toBeGreaterThanOrEqual(Math.max(dataApi[major] ?? Infinity, autoPause[major] ?? Infinity));
      const scaling = asObject(cluster['ServerlessV2ScalingConfiguration']);
      expect(Number(resolveLiteral(scaling['MinCapacity']))).toBe(0);
      expect(intrinsicOf(scaling['SecondsUntilAutoPause'])?.fn).toBe('Fn::If');
      const instances = idsOfType('AWS::RDS::DBInstance').map(propsOf);
      expect(instances).toEqual([
        expect.objectContaining({ DBInstanceClass: 'db.serverless', DBClusterIdentifier: { Ref: 'AuroraCluster' } }),
      ]);
    });

    it('samconfig.toml deploys marvain-<env> stacks with CAPABILITY_IAM (enough: no named IAM), resolve_s3, a confirmed change set and no region', () => {
      const { top, sections } = readToml(readFileSync(path.join(ROOT, 'samconfig.toml'), 'utf8'));
      expect(top['version']).toBe(0.1);
      const environments = [...new Set(Object.keys(sections).map((name) => name.split('.')[0] ?? ''))];
      expect(environments).toContain('default');
      for (const env of environments) {
        const stack = sections[`${env}.global.parameters`]?.['stack_name'];
        expect(stack).toMatch(/^marvain-[a-z0-9-]+$/);
        if (env === 'default') {
          expect(stack).toBe('marvain-dev');
        }
        expect(sections[`${env}.deploy.parameters`]).toMatchObject({
          capabilities: 'CAPABILITY_IAM',
          resolve_s3: true,
          confirm_changeset: true,
        });
        for (const [name, values] of Object.entries(sections)) {
          if (name.startsWith(`${env}.`)) {
            expect(values).not.toHaveProperty('region');
          }
        }
      }
      expect(idsOfType('AWS::IAM::Role').filter((id) => 'RoleName' in propsOf(id))).toEqual([]);
    });

    it('the Cognito app client is public, uses the code flow, and calls back to the local console by default', () => {
      const clients = idsOfType('AWS::Cognito::UserPoolClient').map(propsOf);
      expect(clients).toHaveLength(1);
      const client = clients[0] as JsonObject;
      expect(client).toMatchObject({
        GenerateSecret: false,
        AllowedOAuthFlows: ['code'],
        AllowedOAuthFlowsUserPoolClient: true,
      });
      expect(resolveLiteral(client['CallbackURLs'])).toBe('http://localhost:8084/auth/callback');
      expect(idsOfType('AWS::Cognito::UserPoolDomain')).toHaveLength(1);
    });
  });
});

/** Placeholder values for configuration the template resolves at deploy time. */
function placeholderFor(name: string): string {
  const account = '123456789012';
  if (name.endsWith('_QUEUE_URL')) {
    return `https://sqs.us-east-1.amazonaws.com/${account}/placeholder`;
  }
  if (name === 'MARVAIN_DB_CLUSTER_ARN') {
    return `arn:aws:rds:us-east-1:${account}:cluster:placeholder`;
  }
  if (name === 'MARVAIN_DB_SECRET_ARN') {
    return `arn:aws:secretsmanager:us-east-1:${account}:secret:placeholder-AbCdEf`;
  }
  if (name === 'MARVAIN_WS_ENDPOINT') {
    return 'https://placeholder.execute-api.us-east-1.amazonaws.com/dev';
  }
  if (name === 'MARVAIN_AUDIT_RETENTION_DAYS') {
    return '3650';
  }
  if (name === 'MARVAIN_STREAM_RETENTION_DAYS') {
    return '7';
  }
  if (name === 'MARVAIN_LOG_LEVEL') {
    return 'silent';
  }
  if (name === 'MARVAIN_DB_NAME') {
    return 'marvain';
  }
  if (name === 'LIVEKIT_URL') {
    return 'wss://placeholder.livekit.cloud';
  }
  if (name === 'MARVAIN_COGNITO_USER_POOL_ID') {
    return 'us-east-1_placeholder';
  }
  return 'placeholder';
}

type TomlValue = string | number | boolean;

/** The subset of TOML samconfig.toml uses: top-level keys, [dotted.sections] and `key = "string" | true | false | number`. */
function readToml(source: string): {
  top: Record<string, TomlValue>;
  sections: Record<string, Record<string, TomlValue>>;
} {
  const top: Record<string, TomlValue> = {};
  const sections: Record<string, Record<string, TomlValue>> = {};
  let current = top;
  for (const raw of source.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) {
      continue;
    }
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      current = sections[(header[1] ?? '').trim()] ??= {};
      continue;
    }
    const pair = /^([\w-]+)\s*=\s*(.+)$/.exec(line);
    if (!pair) {
      throw new Error(`samconfig.toml: cannot read "${line}"`);
    }
    const [, key = '', value = ''] = pair;
    current[key] = value.startsWith('"')
      ? (JSON.parse(value) as string)
      : value === 'true'
        ? true
        : value === 'false'
          ? false
          : Number(value);
  }
  return { top, sections };
}
