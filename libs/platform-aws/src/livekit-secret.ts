import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** The variable naming the Secrets Manager secret that holds the LiveKit settings (the http function's). */
export const LIVEKIT_SECRET_ARN = 'LIVEKIT_SECRET_ARN';

/** The secret's JSON keys, and the variables of the config loader each one feeds. */
const SECRET_KEYS = {
  url: 'LIVEKIT_URL',
  api_key: 'LIVEKIT_API_KEY',
  api_secret: 'LIVEKIT_API_SECRET',
} as const;

/** What the secret gives the config loader: its values as the LiveKit variables, or what went wrong. */
export interface LivekitSecretSettings {
  /** LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET, each '' when the secret leaves it empty. */
  env: Partial<Record<(typeof SECRET_KEYS)[keyof typeof SECRET_KEYS], string>>;
  /** Problems to report with the other configuration problems (never a secret value). */
  problems: string[];
}

const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$/;

/**
 * Reads the LiveKit secret once (a Lambda's cold start): a JSON object
 * `{"url": …, "api_key": …, "api_secret": …}`. The values feed the config loader as the LiveKit
 * variables, so all three empty means LiveKit is not configured and a partial set is a
 * configuration problem, as when they are set directly. A secret that cannot be read, or that is
 * not such an object, is a problem too; problems name the secret and the cause, never its value.
 * `client` is for tests; by default one is made for the ARN's region.
 */
export async function readLivekitSecret(
  secretArn: string,
  client?: SecretsManagerClient,
): Promise<LivekitSecretSettings> {
  const region = SECRET_ARN.exec(secretArn)?.[1];
  if (!region) {
    return fail(`${LIVEKIT_SECRET_ARN} must be the ARN of a Secrets Manager secret (got "${secretArn}")`);
  }
  let secretString: string | undefined;
  try {
    const reply = await (client ?? new SecretsManagerClient({ region })).send(
      new GetSecretValueCommand({ SecretId: secretArn }),
    );
    secretString = reply.SecretString;
  } catch (error) {
    return fail(`${LIVEKIT_SECRET_ARN}: cannot read the secret ${secretArn}: ${readFailure(error)}`);
  }
  if (secretString === undefined) {
    return fail(`${LIVEKIT_SECRET_ARN}: the secret ${secretArn} has no SecretString (${EXPECTED})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(secretString);
  } catch {
    return fail(`${LIVEKIT_SECRET_ARN}: the secret ${secretArn} is not JSON (${EXPECTED})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(`${LIVEKIT_SECRET_ARN}: the secret ${secretArn} is not a JSON object (${EXPECTED})`);
  }
  const record = value as Record<string, unknown>;
  const env: LivekitSecretSettings['env'] = {};
  const problems: string[] = [];
  for (const [key, variable] of Object.entries(SECRET_KEYS)) {
    const field = record[key] ?? '';
    if (typeof field === 'string') {
      env[variable] = field;
    } else {
      problems.push(`${LIVEKIT_SECRET_ARN}: "${key}" in the secret ${secretArn} must be a string`);
    }
  }
  return { env, problems };
}

const EXPECTED = 'expected {"url":"wss://…","api_key":"…","api_secret":"…"}, all three empty for no LiveKit';

function fail(problem: string): LivekitSecretSettings {
  return { env: {}, problems: [problem] };
}

/** Why a read failed, in words an operator acts on. */
function readFailure(error: unknown): string {
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  switch (name) {
    case 'AccessDeniedException':
      return `access denied (the function's role needs secretsmanager:GetSecretValue on it): ${message}`;
    case 'ResourceNotFoundException':
      return `no such secret: ${message}`;
    case 'DecryptionFailure':
      return `it cannot be decrypted (the role needs kms:Decrypt on its key): ${message}`;
    default:
      return `${name}: ${message}`;
  }
}
