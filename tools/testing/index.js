// Stand-ins shared by tests and benches. Plain CommonJS with a declaration file beside it, so jest,
// the esbuild bundles and plain Node scripts (tools/bench/*.mjs) all load this one file.
'use strict';

/**
 * The AWS SDK signs every request, so it wants credentials even when the far end is a local stand-in
 * (the local Data API endpoint, a DynamoDB stand-in) that accepts any signature. Not real keys.
 */
const FAKE_AWS_CREDENTIALS = Object.freeze({
  AWS_ACCESS_KEY_ID: 'AKIAMARVAINLOCALTEST',
  AWS_SECRET_ACCESS_KEY: 'marvain-local-not-a-secret',
  // Lambda's Node 22 runtime prints no such warning; Node 20 here would, in every process.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
});

/** A whole fake AWS environment for a child process (a Lambda bundle): the credentials and a region. */
const FAKE_AWS_ENV = Object.freeze({ AWS_REGION: 'eu-west-1', ...FAKE_AWS_CREDENTIALS });

/** Sets the fake credentials in this process's environment where a variable is not set already. */
function useFakeAwsCredentials(env = process.env) {
  for (const [name, value] of Object.entries(FAKE_AWS_CREDENTIALS)) {
    env[name] ??= value;
  }
}

const { FakeAws, WS_STAGE_PATH } = require('./fake-aws');

module.exports = { FAKE_AWS_CREDENTIALS, FAKE_AWS_ENV, useFakeAwsCredentials, FakeAws, WS_STAGE_PATH };
