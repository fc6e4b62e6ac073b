import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent, ScheduledEvent, SQSEvent, SQSRecord } from 'aws-lambda';
import type { WebSocketEvent } from '../websocket-routes';
import restFixture from './events/api-gateway-rest.json';
import scheduledFixture from './events/scheduled.json';
import sqsFixture from './events/sqs.json';
import connectFixture from './events/websocket-connect.json';
import disconnectFixture from './events/websocket-disconnect.json';
import messageFixture from './events/websocket-message.json';

// Recorded API Gateway and SQS events (./events/*.json, as the services deliver them), with the
// fields a test varies filled in.

const clone = <T>(value: T): T => structuredClone(value);

/** An API Gateway REST API (v1 proxy integration) request. */
export function restEvent(
  method: string,
  url: string,
  options: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): APIGatewayProxyEvent {
  const event = clone(restFixture) as unknown as APIGatewayProxyEvent;
  const [path = '/', query = ''] = url.split('?', 2);
  const params = new URLSearchParams(query);
  const headers: Record<string, string> = { ...(event.headers as Record<string, string>) };
  if (options.token) {
    headers['Authorization'] = `Bearer ${options.token}`;
  }
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
  }
  Object.assign(headers, options.headers);
  event.httpMethod = method;
  event.path = path;
  event.headers = headers;
  event.multiValueHeaders = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]]));
  event.queryStringParameters = params.size > 0 ? Object.fromEntries(params) : null;
  event.multiValueQueryStringParameters =
    params.size > 0 ? Object.fromEntries([...params.keys()].map((key) => [key, params.getAll(key)])) : null;
  event.pathParameters = { proxy: path.slice(1) };
  event.body = options.rawBody ?? (options.body === undefined ? null : JSON.stringify(options.body));
  event.requestContext.httpMethod = method;
  event.requestContext.path = `/${event.requestContext.stage}${path}`;
  event.requestContext.requestId = randomUUID();
  event.requestContext.requestTimeEpoch = Date.now();
  return event;
}

function websocketEvent(
  fixture: unknown,
  connectionId: string,
): WebSocketEvent & { requestContext: Record<string, unknown> } {
  const event = clone(fixture) as WebSocketEvent & { requestContext: Record<string, unknown> };
  event.requestContext.connectionId = connectionId;
  event.requestContext['requestTimeEpoch'] = Date.now();
  event.requestContext['connectedAt'] = Date.now();
  return event;
}

/** A WebSocket API $connect, with the credentials in the Authorization header or the `token` query parameter. */
export function connectEvent(
  connectionId: string,
  credentials: { header?: string; query?: string } = {},
): WebSocketEvent {
  const event = websocketEvent(connectFixture, connectionId);
  if (credentials.header) {
    event.headers = { ...event.headers, Authorization: `Bearer ${credentials.header}` };
  }
  if (credentials.query) {
    event.queryStringParameters = { token: credentials.query };
  }
  return event;
}

/** A message on the WebSocket API's $default route. */
export function messageEvent(connectionId: string, body: unknown): WebSocketEvent {
  const event = websocketEvent(messageFixture, connectionId);
  event.body = typeof body === 'string' ? body : JSON.stringify(body);
  return event;
}

export function disconnectEvent(connectionId: string): WebSocketEvent {
  return websocketEvent(disconnectFixture, connectionId);
}

/** An SQS batch; each body is sent as given when a string, else as JSON. */
export function sqsEvent(queue: string, records: Array<{ body: unknown; receiveCount?: number }>): SQSEvent {
  const [template] = clone(sqsFixture).Records as SQSRecord[];
  return {
    Records: records.map(({ body, receiveCount = 1 }) => ({
      ...clone(template as SQSRecord),
      messageId: randomUUID(),
      body: typeof body === 'string' ? body : JSON.stringify(body),
      attributes: {
        ...(template as SQSRecord).attributes,
        ApproximateReceiveCount: String(receiveCount),
        SentTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      eventSourceARN: `arn:aws:sqs:eu-west-1:123456789012:${queue}`,
    })),
  };
}

/** An EventBridge schedule's invocation (the maintenance function's `rate(1 minute)`). */
export function scheduledEvent(): ScheduledEvent {
  const event = clone(scheduledFixture) as ScheduledEvent;
  event.id = randomUUID();
  event.time = new Date().toISOString();
  return event;
}
