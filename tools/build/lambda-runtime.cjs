// A stand-in for a Lambda container, for the bundle test and the cold-start benchmark: loads one
// built bundle, then invokes its `handler` with each event the parent process sends over IPC,
// one at a time, as Lambda does. Usage: child_process.fork('tools/build/lambda-runtime.cjs', [bundle]).
//   parent → child  { id, event }
//   child → parent  { ready: true, loadMs }  once the bundle is loaded (or { ready: false, error })
//                   { id, result, ms } or { id, error, ms }  per event
'use strict';
const { randomUUID } = require('node:crypto');
const path = require('node:path');

const started = performance.now();
const bundle = path.resolve(process.argv[2] ?? '');
const functionName = path.basename(path.dirname(bundle));

/** The parts of the Lambda context object the handlers may read. */
function context(timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  return {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done() {},
    fail() {},
    succeed() {},
  };
}

let handler;
try {
  ({ handler } = require(bundle));
  if (typeof handler !== 'function') {
    throw new Error(`${bundle} does not export a handler function`);
  }
  process.send({ ready: true, loadMs: performance.now() - started });
} catch (error) {
  process.send({ ready: false, error: error instanceof Error ? error.stack : String(error) }, () => process.exit(1));
}

let queue = Promise.resolve();
process.on('message', ({ id, event }) => {
  queue = queue.then(async () => {
    const begun = performance.now();
    try {
      const result = await handler(event, context());
      process.send({ id, result, ms: performance.now() - begun });
    } catch (error) {
      process.send({ id, error: error instanceof Error ? error.stack : String(error), ms: performance.now() - begun });
    }
  });
});
process.on('disconnect', () => process.exit(0));
