import {
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { AuditSinkConflictError, type Clock } from '@marvain/platform';
import { S3AuditSink } from './s3-audit-sink';

const BUCKET = 'marvain-audit-123456789012';
const NOW = new Date('2026-11-20T10:00:00.000Z');
const clock: Clock = { now: () => new Date(NOW) };

const s3 = mockClient(S3Client);

function sent(): Array<{ command: string; input: unknown }> {
  return s3.calls().map((call) => ({ command: call.args[0].constructor.name, input: call.args[0].input }));
}

function sink(options: Partial<ConstructorParameters<typeof S3AuditSink>[1]> = {}): S3AuditSink {
  return new S3AuditSink(
    () => new S3Client({ region: 'eu-west-1' }),
    { bucket: BUCKET, lockMode: 'GOVERNANCE', retentionDays: 3650, ...options },
    clock,
  );
}

/** A GetObject body as the SDK returns it (only the method the sink reads). */
const objectBody = (text: string) =>
  ({
    transformToString: (encoding?: string) =>
      Promise.resolve(Buffer.from(text, 'utf8').toString((encoding ?? 'utf-8') as BufferEncoding)),
  }) as never;

const s3Error = (name: string, status: number, message = name): S3ServiceException =>
  new S3ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: status }, message });

const preconditionFailed = (): S3ServiceException =>
  s3Error('PreconditionFailed', 412, 'At least one of the pre-conditions you specified did not hold');

const ENTRY = '{"chain_id":"c1","seq":1,"text":"héllo"}\n';
// Computed independently: printf '…' | openssl dgst -sha256 -binary | base64
const ENTRY_SHA256 = 'LO89TPWJ4gW2CGXEObQPbkLZVdUBgxcuBnaCyg2lb9M=';
const KEY = 'chains/c1/000000000001.json';

describe('S3AuditSink', () => {
  beforeEach(() => {
    s3.reset();
  });

  it('reports the bucket as an s3:// URL', () => {
    expect(sink().location).toBe('s3://marvain-audit-123456789012/');
  });

  describe('put', () => {
    it('writes once with Object Lock retention from now, a SHA-256 checksum and If-None-Match: *', async () => {
      s3.on(PutObjectCommand).resolves({});
      await sink().put(KEY, ENTRY);
      expect(sent()).toStrictEqual([
        {
          command: 'PutObjectCommand',
          input: {
            Bucket: BUCKET,
            Key: KEY,
            Body: ENTRY,
            ContentType: 'application/json',
            ChecksumAlgorithm: 'SHA256',
            ChecksumSHA256: ENTRY_SHA256,
            ObjectLockMode: 'GOVERNANCE',
            ObjectLockRetainUntilDate: new Date('2036-11-17T10:00:00.000Z'),
            IfNoneMatch: '*',
          },
        },
      ]);
    });

    it('uses the configured lock mode and retention', async () => {
      await sink({ lockMode: 'COMPLIANCE', retentionDays: 1 }).put('chains/c1/000000000002.json', 'entry-1');
      expect(s3.commandCalls(PutObjectCommand)[0]!.args[0].input).toMatchObject({
        ObjectLockMode: 'COMPLIANCE',
        ObjectLockRetainUntilDate: new Date('2026-11-21T10:00:00.000Z'),
        ChecksumSHA256: 'Xi1dHljpTXYH4HRc0+YSxKNY/JPzf8WrH+2NBLv3znc=',
      });
    });

    it('treats an existing key holding the same bytes as a retried write that succeeded', async () => {
      s3.on(PutObjectCommand).rejects(preconditionFailed());
      s3.on(GetObjectCommand).resolves({ Body: objectBody(ENTRY) });
      await expect(sink().put(KEY, ENTRY)).resolves.toBeUndefined();
      expect(sent().map((call) => call.command)).toEqual(['PutObjectCommand', 'GetObjectCommand']);
      expect(sent()[1]!.input).toStrictEqual({ Bucket: BUCKET, Key: KEY });
    });

    it('recognises a 412 by its status alone', async () => {
      s3.on(PutObjectCommand).rejects(s3Error('Unknown', 412));
      s3.on(GetObjectCommand).resolves({ Body: objectBody(ENTRY) });
      await expect(sink().put(KEY, ENTRY)).resolves.toBeUndefined();
    });

    it('refuses different bytes for an existing key with AuditSinkConflictError', async () => {
      s3.on(PutObjectCommand).rejects(preconditionFailed());
      s3.on(GetObjectCommand).resolves({ Body: objectBody(ENTRY.replace('héllo', 'hello')) });
      const attempt = sink().put(KEY, ENTRY);
      await expect(attempt).rejects.toBeInstanceOf(AuditSinkConflictError);
      await expect(attempt).rejects.toMatchObject({ key: KEY });
    });

    it('compares with the stored object after a concurrent conditional write (409), and rethrows if none landed', async () => {
      const conflict = s3Error('ConditionalRequestConflict', 409);
      s3.on(PutObjectCommand).rejects(conflict);
      s3.on(GetObjectCommand)
        .resolvesOnce({ Body: objectBody(ENTRY) })
        .rejects(new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'The specified key does not exist.' }));
      await expect(sink().put(KEY, ENTRY)).resolves.toBeUndefined();
      await expect(sink().put(KEY, ENTRY)).rejects.toBe(conflict);
    });

    it('passes any other failure on without reading the key', async () => {
      const denied = s3Error('AccessDenied', 403);
      s3.on(PutObjectCommand).rejects(denied);
      await expect(sink().put(KEY, ENTRY)).rejects.toBe(denied);
      expect(s3.commandCalls(GetObjectCommand)).toHaveLength(0);
    });
  });

  describe('get', () => {
    it('returns the object body as text', async () => {
      s3.on(GetObjectCommand, { Bucket: BUCKET, Key: KEY }).resolves({ Body: objectBody(ENTRY) });
      expect(await sink().get(KEY)).toBe(ENTRY);
      expect(sent()).toStrictEqual([{ command: 'GetObjectCommand', input: { Bucket: BUCKET, Key: KEY } }]);
    });

    it('returns null for a key that does not exist', async () => {
      s3.on(GetObjectCommand).rejects(
        new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'The specified key does not exist.' }),
      );
      expect(await sink().get('chains/c1/000000000099.json')).toBeNull();
    });

    it('passes on a missing bucket or a denied read instead of answering null', async () => {
      s3.on(GetObjectCommand).rejectsOnce(s3Error('NoSuchBucket', 404)).rejectsOnce(s3Error('AccessDenied', 403));
      await expect(sink().get(KEY)).rejects.toThrow('NoSuchBucket');
      await expect(sink().get(KEY)).rejects.toThrow('AccessDenied');
    });
  });

  describe('list', () => {
    it('follows continuation tokens and returns every key under the prefix in ascending order', async () => {
      s3.on(ListObjectsV2Command)
        .resolvesOnce({
          IsTruncated: true,
          NextContinuationToken: 'token-2',
          Contents: [{ Key: 'chains/c1/000000000003.json' }, { Key: 'chains/c1/000000000001.json' }],
        })
        .resolvesOnce({
          IsTruncated: false,
          Contents: [{ Key: 'chains/c1/000000000002.json' }, { Key: 'chains/c1/000000000010.json' }],
        });
      expect(await sink().list('chains/c1')).toEqual([
        'chains/c1/000000000001.json',
        'chains/c1/000000000002.json',
        'chains/c1/000000000003.json',
        'chains/c1/000000000010.json',
      ]);
      expect(sent()).toStrictEqual([
        { command: 'ListObjectsV2Command', input: { Bucket: BUCKET, Prefix: 'chains/c1/', Delimiter: '/' } },
        {
          command: 'ListObjectsV2Command',
          input: { Bucket: BUCKET, Prefix: 'chains/c1/', Delimiter: '/', ContinuationToken: 'token-2' },
        },
      ]);
    });

    it('lists a prefix as a folder, whether or not it ends with a slash, and nothing for an empty one', async () => {
      s3.on(ListObjectsV2Command).resolves({ KeyCount: 0 });
      expect(await sink().list('chains/c1/')).toEqual([]);
      expect(await sink().list('chains/c1')).toEqual([]);
      expect(s3.commandCalls(ListObjectsV2Command).map((call) => call.args[0].input.Prefix)).toEqual([
        'chains/c1/',
        'chains/c1/',
      ]);
    });
  });

  it.each(['../escape', 'chains//c1', '/chains/c1', 'chains/c1/', '', '..'])(
    'refuses the key %j without calling S3',
    async (key) => {
      await expect(sink().put(key, 'x')).rejects.toThrow(/invalid audit key/);
      await expect(sink().get(key)).rejects.toThrow(/invalid audit key/);
      expect(s3.calls()).toHaveLength(0);
    },
  );

  it.each(['..', 'chains//c1', ''])('refuses to list the prefix %j', async (prefix) => {
    await expect(sink().list(prefix)).rejects.toThrow(/invalid audit key/);
    expect(s3.calls()).toHaveLength(0);
  });
});
