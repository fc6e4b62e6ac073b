import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { AuditSinkConflictError, type AuditLockMode, type AuditSink, type Clock } from '@marvain/platform';

export interface S3AuditSinkOptions {
  bucket: string;
  lockMode: AuditLockMode;
  /** Each object is retained this many days from the moment it is written. */
  retentionDays: number;
}

const DAY_MS = 24 * 3600 * 1000;

/**
 * The AWS runtime's audit sink: one object per entry in an S3 bucket with Object Lock.
 * Each PutObject carries its own retention (mode and retain-until date), a SHA-256 checksum
 * S3 verifies on arrival, and `If-None-Match: *`, so S3 refuses to replace an existing key.
 * When it refuses, the stored bytes decide: the same bytes mean a retried write (success),
 * different bytes are a conflict. Keys are `chains/<chain>/<12-digit seq>.json` (AuditService),
 * so a listing in key order is the chain in order and a missing sequence number is visible.
 */
export class S3AuditSink implements AuditSink {
  /** `client` hands out the SDK client; awsAdapters makes it on the first call (see `once` there). */
  constructor(
    private readonly client: () => S3Client,
    private readonly options: S3AuditSinkOptions,
    private readonly clock: Clock,
  ) {}

  get location(): string {
    return `s3://${this.options.bucket}/`;
  }

  async put(key: string, body: string): Promise<void> {
    checkKey(key);
    try {
      await this.client().send(
        new PutObjectCommand({
          Bucket: this.options.bucket,
          Key: key,
          Body: body,
          ContentType: 'application/json',
          ChecksumAlgorithm: 'SHA256',
          ChecksumSHA256: createHash('sha256').update(body, 'utf8').digest('base64'),
          ObjectLockMode: this.options.lockMode,
          ObjectLockRetainUntilDate: new Date(this.clock.now().getTime() + this.options.retentionDays * DAY_MS),
          IfNoneMatch: '*',
        }),
      );
    } catch (error) {
      // 412: the key exists. 409: another conditional write to the key is under way; if it has
      // landed, compare with it, otherwise the caller retries later (the audit flush does).
      if (!isError(error, 'PreconditionFailed', 412) && !isError(error, 'ConditionalRequestConflict')) {
        throw error;
      }
      const existing = await this.get(key);
      if (existing === null) {
        throw error;
      }
      if (existing !== body) {
        throw new AuditSinkConflictError(key);
      }
    }
  }

  async get(key: string): Promise<string | null> {
    checkKey(key);
    try {
      const result = await this.client().send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
      if (!result.Body) {
        return '';
      }
      return await result.Body.transformToString('utf-8');
    } catch (error) {
      if (isError(error, 'NoSuchKey')) {
        return null;
      }
      throw error;
    }
  }

  /** Keys directly under the prefix (as a folder: `chains/c1` lists `chains/c1/...`, never `chains/c10/...`). */
  async list(prefix: string): Promise<string[]> {
    const base = prefix.replace(/\/$/, '');
    checkKey(base);
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client().send(
        new ListObjectsV2Command({
          Bucket: this.options.bucket,
          Prefix: `${base}/`,
          Delimiter: '/',
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key) {
          keys.push(object.Key);
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }
}

/** The same key rules as the file sink, so a key that works in one runtime works in the other. */
function checkKey(key: string): void {
  if (key.split('/').some((part) => part === '..' || part === '')) {
    throw new Error(`invalid audit key ${key}`);
  }
}

/** An S3 error by its code, or (where the code alone can be missing) by its HTTP status. */
function isError(error: unknown, name: string, status?: number): boolean {
  if (!(error instanceof Error)) {
    return false;
  }
  if (error.name === name) {
    return true;
  }
  return (
    status !== undefined && (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === status
  );
}
