import 'reflect-metadata';
import serverlessExpress from '@codegenie/serverless-express';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { withGatewayRequestId } from '@marvain/platform';
import { createHubApp } from '../setup';
import { lambdaConfigWithSecrets, once } from './bootstrap';

/**
 * The hub's Fastify instance behind serverless-express, created on the first request (with its
 * settings, the LiveKit secret read then) and kept for the container's life. serverless-express 4 has no Fastify adapter of its own; it serves
 * any app object with a `handler(req, res)`, and Fastify's `routing` is exactly that once the
 * instance is ready.
 */
const proxy = once(async () => {
  // Here rather than at load: the LiveKit secret is read over the network, once per container.
  const config = await lambdaConfigWithSecrets('http');
  const app = await createHubApp(config);
  const fastify = app.getHttpAdapter().getInstance();
  await fastify.ready();
  const routed = {
    handler: (request: IncomingMessage, response: ServerResponse) => fastify.routing(request, response),
  };
  return serverlessExpress<APIGatewayProxyEvent, APIGatewayProxyResult>({ app: routed as unknown as RequestListener });
});

/** API Gateway REST API (v1 proxy integration) events. */
export async function handler(event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> {
  const serve = await proxy();
  return (await serve(withGatewayRequestId(event), context, () => undefined)) as APIGatewayProxyResult;
}
