// Types of index.js (plain CommonJS, so plain Node scripts load it too).

export declare const FAKE_AWS_CREDENTIALS: Readonly<{
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: string;
}>;

export declare const FAKE_AWS_ENV: Readonly<typeof FAKE_AWS_CREDENTIALS & { AWS_REGION: string }>;

export declare function useFakeAwsCredentials(env?: NodeJS.ProcessEnv): void;

/** Key attribute names: [partition] or [partition, sort]. */
export type FakeKeySchema = [string] | [string, string];

/** DynamoDB tables the fake serves: their keys and global secondary indexes. */
export type FakeTables = Record<string, { key: FakeKeySchema; indexes: Record<string, FakeKeySchema> }>;

/** The Management API's stage path under FakeAws.endpoint. */
export declare const WS_STAGE_PATH: string;

/**
 * A local HTTPS stand-in for DynamoDB, the API Gateway Management API, SQS, S3 and Secrets Manager's
 * GetSecretValue (fake-aws.js):
 * the real SDK clients of a child process reach it through `env`.
 */
export declare class FakeAws {
  static start(tables: FakeTables): Promise<FakeAws>;
  readonly endpoint: string;
  /** For MARVAIN_WS_ENDPOINT. */
  readonly websocketEndpoint: string;
  /** AWS_ENDPOINT_URL_DYNAMODB, _SQS, _S3, _SECRETS_MANAGER and NODE_EXTRA_CA_CERTS for a child process. */
  readonly env: Readonly<Record<string, string>>;
  /** PostToConnection calls in arrival order, Data parsed as JSON. */
  readonly posted: Array<{ connectionId: string; data: Record<string, unknown> }>;
  /** DeleteConnection calls in arrival order. */
  readonly closed: string[];
  /** Connections answered GoneException (closed ones join it). */
  readonly gone: Set<string>;
  /** SQS SendMessage inputs in arrival order. */
  readonly sent: Array<{ QueueUrl: string; MessageBody: string }>;
  readonly objects: Map<string, string>;
  /** Secrets Manager secrets by ARN (their SecretString), for GetSecretValue; set them before a read. */
  readonly secrets: Map<string, string>;
  /** GetSecretValue inputs in arrival order. */
  readonly secretReads: Array<{ SecretId: string }>;
  /** A table's items, unmarshalled. */
  items(table: string): Array<Record<string, unknown>>;
  close(): Promise<void>;
}
