// A local stand-in for the AWS services a Lambda bundle reaches besides the database: DynamoDB
// (the connections table and its indexes), the API Gateway Management API, SQS, S3 and Secrets Manager (GetSecretValue), over HTTPS
// (the hub refuses http:// endpoints) with a self-signed certificate the child trusts through
// NODE_EXTRA_CA_CERTS. It speaks the wire protocols the real SDK clients send, and only the parts
// the hub uses: a request it does not know is answered 400, so a new use fails loudly.
'use strict';

const { execFileSync } = require('node:child_process');
const { createHash, randomUUID } = require('node:crypto');
const { mkdtempSync, readFileSync, rmSync } = require('node:fs');
const https = require('node:https');
const { tmpdir } = require('node:os');
const path = require('node:path');

/** The Management API's stage path: MARVAIN_WS_ENDPOINT is `${endpoint}${WS_STAGE_PATH}`. */
const WS_STAGE_PATH = '/prod';

/** A DynamoDB attribute value's scalar (S or N); undefined for anything else. */
function scalar(value) {
  if (!value) {
    return undefined;
  }
  if ('S' in value) {
    return value.S;
  }
  if ('N' in value) {
    return Number(value.N);
  }
  return undefined;
}

/** `a = :x AND b > :y`: the comparisons the hub's expressions use. */
function parseConditions(expression) {
  if (!expression) {
    return [];
  }
  return expression.split(/\s+AND\s+/).map((part) => {
    const match = /^\s*(\w+)\s*(=|>|<|>=|<=)\s*(:\w+)\s*$/.exec(part);
    if (!match) {
      throw new Error(`the fake DynamoDB does not evaluate "${part}"`);
    }
    return { name: match[1], op: match[2], placeholder: match[3] };
  });
}

function holds(item, conditions, values) {
  return conditions.every(({ name, op, placeholder }) => {
    const left = scalar(item[name]);
    const right = scalar(values[placeholder]);
    if (left === undefined) {
      return false;
    }
    switch (op) {
      case '=':
        return left === right;
      case '>':
        return left > right;
      case '<':
        return left < right;
      case '>=':
        return left >= right;
      default:
        return left <= right;
    }
  });
}

class FakeDynamo {
  /** `tables`: name → { key: [hash, range?], indexes: { name: [hash, range?] } }. */
  constructor(tables) {
    this.tables = new Map(Object.entries(tables).map(([name, schema]) => [name, { schema, items: new Map() }]));
  }

  table(name) {
    const table = this.tables.get(name);
    if (!table) {
      throw Object.assign(new Error(`Requested resource not found: ${name}`), { awsType: 'ResourceNotFoundException' });
    }
    return table;
  }

  keyOf(table, item) {
    return JSON.stringify(table.schema.key.map((name) => scalar(item[name])));
  }

  handle(operation, input) {
    const table = this.table(input.TableName);
    switch (operation) {
      case 'PutItem':
        table.items.set(this.keyOf(table, input.Item), input.Item);
        return {};
      case 'GetItem': {
        const item = table.items.get(this.keyOf(table, input.Key));
        return item ? { Item: item } : {};
      }
      case 'DeleteItem':
        table.items.delete(this.keyOf(table, input.Key));
        return {};
      case 'Query': {
        const keys = input.IndexName ? table.schema.indexes[input.IndexName] : table.schema.key;
        if (!keys) {
          throw Object.assign(new Error(`no index ${input.IndexName}`), { awsType: 'ValidationException' });
        }
        const values = input.ExpressionAttributeValues ?? {};
        const keyConditions = parseConditions(input.KeyConditionExpression);
        const filter = parseConditions(input.FilterExpression);
        const range = keys[1];
        let items = [...table.items.values()]
          // An index holds only the items that carry its key attributes (a sparse index).
          .filter((item) => keys.every((name) => item[name] !== undefined))
          .filter((item) => holds(item, keyConditions, values));
        const scanned = items.length;
        items = items.filter((item) => holds(item, filter, values));
        if (range) {
          items.sort((a, b) => (scalar(a[range]) < scalar(b[range]) ? -1 : 1));
        }
        if (input.ProjectionExpression) {
          const names = input.ProjectionExpression.split(',').map((name) => name.trim());
          items = items.map((item) => Object.fromEntries(names.filter((n) => n in item).map((n) => [n, item[n]])));
        }
        return { Items: items, Count: items.length, ScannedCount: scanned };
      }
      default:
        throw Object.assign(new Error(`the fake DynamoDB does not serve ${operation}`), {
          awsType: 'ValidationException',
        });
    }
  }

  /** A table's items as plain objects (scalars, lists, maps and nulls unmarshalled). */
  items(name) {
    return [...this.table(name).items.values()].map(unmarshall);
  }
}

function unmarshallValue(value) {
  const [type, inner] = Object.entries(value)[0] ?? [];
  switch (type) {
    case 'S':
    case 'BOOL':
    case 'SS':
      return inner;
    case 'N':
      return Number(inner);
    case 'NULL':
      return null;
    case 'L':
      return inner.map(unmarshallValue);
    case 'M':
      return unmarshall(inner);
    default:
      throw new Error(`cannot unmarshall ${JSON.stringify(value)}`);
  }
}

function unmarshall(item) {
  return Object.fromEntries(Object.entries(item).map(([name, value]) => [name, unmarshallValue(value)]));
}

/** A self-signed certificate for 127.0.0.1, made with openssl in a temporary folder. */
function selfSignedCertificate() {
  const dir = mkdtempSync(path.join(tmpdir(), 'marvain-fake-aws-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1'].concat([
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ]),
    { stdio: 'pipe' },
  );
  return { dir, key: readFileSync(key), cert: readFileSync(cert), certFile: cert };
}

class FakeAws {
  constructor(server, certificate, dynamo) {
    this.server = server;
    this.certificate = certificate;
    this.dynamo = dynamo;
    /** PostToConnection calls, in arrival order: { connectionId, data } (data parsed as JSON). */
    this.posted = [];
    /** DeleteConnection calls, in arrival order. */
    this.closed = [];
    /** Connections the Management API answers GoneException for. */
    this.gone = new Set();
    /** SQS SendMessage inputs, in arrival order. */
    this.sent = [];
    /** S3 PUTs by path. */
    this.objects = new Map();
    /** Secrets Manager secrets by ARN: their SecretString (GetSecretValue answers ResourceNotFoundException for others). */
    this.secrets = new Map();
    /** GetSecretValue inputs, in arrival order. */
    this.secretReads = [];
    const { port } = server.address();
    this.endpoint = `https://127.0.0.1:${port}`;
    this.websocketEndpoint = `${this.endpoint}${WS_STAGE_PATH}`;
    /** What a child process needs to reach these instead of AWS. */
    this.env = {
      AWS_ENDPOINT_URL_DYNAMODB: this.endpoint,
      AWS_ENDPOINT_URL_SQS: this.endpoint,
      AWS_ENDPOINT_URL_S3: this.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: this.endpoint,
      NODE_EXTRA_CA_CERTS: certificate.certFile,
    };
  }

  /** Starts the stand-in; `tables` as FakeDynamo takes them. */
  static async start(tables) {
    const certificate = selfSignedCertificate();
    const dynamo = new FakeDynamo(tables);
    let fake;
    const server = https.createServer({ key: certificate.key, cert: certificate.cert }, (request, response) => {
      const chunks = [];
      request.on('data', (chunk) => chunks.push(chunk));
      request.on('end', () => fake.serve(request, Buffer.concat(chunks).toString('utf8'), response));
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake = new FakeAws(server, certificate, dynamo);
    return fake;
  }

  serve(request, body, response) {
    const target = request.headers['x-amz-target'];
    const json = (status, value, headers = {}) => {
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', ...headers });
      response.end(JSON.stringify(value));
    };
    try {
      if (typeof target === 'string' && target.startsWith('DynamoDB_20120810.')) {
        return json(200, this.dynamo.handle(target.slice('DynamoDB_20120810.'.length), JSON.parse(body)));
      }
      if (target === 'AmazonSQS.SendMessage') {
        const input = JSON.parse(body);
        this.sent.push(input);
        const md5 = createHash('md5').update(input.MessageBody, 'utf8').digest('hex');
        return json(200, { MessageId: randomUUID(), MD5OfMessageBody: md5 });
      }
      if (target === 'secretsmanager.GetSecretValue') {
        const input = JSON.parse(body);
        this.secretReads.push(input);
        if (!this.secrets.has(input.SecretId)) {
          throw Object.assign(new Error("Secrets Manager can't find the specified secret."), {
            awsType: 'ResourceNotFoundException',
          });
        }
        return json(200, {
          ARN: input.SecretId,
          Name: input.SecretId.split(':').at(-1),
          SecretString: this.secrets.get(input.SecretId),
          VersionId: randomUUID(),
          VersionStages: ['AWSCURRENT'],
          CreatedDate: Date.now() / 1000,
        });
      }
      const url = new URL(request.url, this.endpoint);
      const connection = /^\/prod\/@connections\/([^/]+)$/.exec(url.pathname);
      if (connection) {
        const connectionId = decodeURIComponent(connection[1]);
        if (this.gone.has(connectionId)) {
          response.writeHead(410, { 'content-type': 'application/json', 'x-amzn-errortype': 'GoneException' });
          return response.end(JSON.stringify({ message: 'Gone' }));
        }
        if (request.method === 'POST') {
          this.posted.push({ connectionId, data: JSON.parse(body) });
          response.writeHead(200);
          return response.end();
        }
        if (request.method === 'DELETE') {
          this.closed.push(connectionId);
          this.gone.add(connectionId);
          response.writeHead(204);
          return response.end();
        }
      }
      if (request.method === 'PUT' && !target) {
        this.objects.set(url.pathname, body);
        response.writeHead(200, { etag: `"${createHash('md5').update(body).digest('hex')}"` });
        return response.end();
      }
      if (request.method === 'GET' && !target) {
        response.writeHead(404, { 'content-type': 'application/xml' });
        return response.end(
          '<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>',
        );
      }
      throw Object.assign(new Error(`the fake AWS does not serve ${request.method} ${request.url} ${target ?? ''}`), {
        awsType: 'UnknownOperationException',
      });
    } catch (error) {
      return json(400, {
        __type: `com.amazonaws.fake#${error.awsType ?? 'ValidationException'}`,
        message: String(error.message),
      });
    }
  }

  /** Items of a DynamoDB table, unmarshalled. */
  items(table) {
    return this.dynamo.items(table);
  }

  async close() {
    await new Promise((resolve) => this.server.close(resolve));
    rmSync(this.certificate.dir, { recursive: true, force: true });
  }
}

module.exports = { FakeAws, WS_STAGE_PATH };
