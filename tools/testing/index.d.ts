// Types of index.js (plain CommonJS, so plain Node scripts load it too).

export declare const FAKE_AWS_CREDENTIALS: Readonly<{
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: string;
}>;

export declare const FAKE_AWS_ENV: Readonly<typeof FAKE_AWS_CREDENTIALS & { AWS_REGION: string }>;

export declare function useFakeAwsCredentials(env?: NodeJS.ProcessEnv): void;
