/**
 * Write-once object storage for audit entries: S3 with Object Lock in AWS, a folder of
 * read-only files locally. Writing the same bytes to a key again is harmless (retries);
 * writing different bytes to an existing key fails.
 */
export interface AuditSink {
  put(key: string, body: string): Promise<void>;
  get(key: string): Promise<string | null>;
  /** Keys under a prefix, in ascending order. */
  list(prefix: string): Promise<string[]>;
  /** Where entries live, for humans (a folder path or an s3:// URL). */
  readonly location: string;
}
export const AUDIT_SINK = Symbol('AuditSink');

export class AuditSinkConflictError extends Error {
  constructor(readonly key: string) {
    super(`audit object ${key} already exists with different content; audit objects are write-once`);
    this.name = 'AuditSinkConflictError';
  }
}
