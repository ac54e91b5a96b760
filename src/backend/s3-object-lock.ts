// S3 Object Lock for S3Backend: the lock parameters of a PUT, the bucket check, and reading and extending the
// retain-until date of one object (HeadObject, PutObjectRetention). Must never shorten a lock and never send a
// bypass of governance retention: what the repository locked stays locked for everyone using this program.

import {
  GetObjectLockConfigurationCommand,
  HeadObjectCommand,
  PutObjectRetentionCommand,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { BackendError, RepoError } from '../core/errors.js';
import { type FileType, type Handle, handleToPath, isNotFound } from './backend.js';
import {
  type ObjectLockMode,
  type ObjectLockPolicy,
  type ObjectRetention,
  type Retention,
  isLockedType,
  retainUntil,
  validateObjectLockPolicy,
} from './object-lock.js';

/** What the lock needs from its S3Backend: the client, where keys live, and its request runner (limits, error mapping). */
export interface S3LockAccess {
  client: S3Client;
  bucket: string;
  key(rel: string): string;
  call<T>(file: string, action: string, fn: () => Promise<T>): Promise<T>;
}

const toS3Mode = (m: ObjectLockMode) => (m === 'compliance' ? 'COMPLIANCE' : 'GOVERNANCE');

function fromS3Mode(m: string | undefined): ObjectLockMode | undefined {
  if (m === 'COMPLIANCE') return 'compliance';
  if (m === 'GOVERNANCE') return 'governance';
  return undefined;
}

export class S3ObjectLock implements ObjectRetention {
  private policy: ObjectLockPolicy | undefined;

  constructor(
    private readonly s3: S3LockAccess,
    private readonly now: () => Date = () => new Date(),
  ) {}

  get writePolicy(): ObjectLockPolicy | undefined {
    return this.policy;
  }

  setWritePolicy(policy: ObjectLockPolicy | undefined): void {
    this.policy = policy === undefined ? undefined : { ...validateObjectLockPolicy(policy) };
  }

  /** Adds the lock headers to a PUT of a file of `type` (the caller sends Content-MD5, which S3 requires with them). */
  lockPut(type: FileType, params: PutObjectCommandInput): void {
    if (this.policy === undefined || !isLockedType(type)) return;
    params.ObjectLockMode = toS3Mode(this.policy.mode);
    params.ObjectLockRetainUntilDate = retainUntil(this.now(), this.policy.days);
  }

  /**
   * After a multipart upload: radosgw 16.2 ignores the lock headers of CreateMultipartUpload, so the lock is set
   * with PutObjectRetention (a HEAD and nothing more where the server applied the headers).
   */
  async lockAfterMultipart(h: Handle): Promise<void> {
    if (this.policy === undefined || !isLockedType(h.type)) return;
    await this.extendRetention(h, retainUntil(this.now(), this.policy.days));
  }

  async checkLockEnabled(): Promise<void> {
    const where = `bucket ${this.s3.bucket}`;
    let enabled: string | undefined;
    let rule: unknown;
    try {
      const out = await this.s3.call(this.s3.bucket, 'read the object lock configuration of', () =>
        this.s3.client.send(new GetObjectLockConfigurationCommand({ Bucket: this.s3.bucket })),
      );
      enabled = out.ObjectLockConfiguration?.ObjectLockEnabled;
      rule = out.ObjectLockConfiguration?.Rule?.DefaultRetention;
    } catch (err) {
      // ObjectLockConfigurationNotFoundError (404): the bucket exists (create() made sure) but has no Object Lock.
      if (!isNotFound(err) && !(err instanceof RepoError && err.context.status === 400)) throw err;
    }
    if (enabled !== 'Enabled') {
      throw new BackendError(
        `${where} does not have Object Lock enabled: create the bucket with Object Lock (versioning on), or let "repo init --object-lock" create it`,
        { path: this.s3.bucket },
      );
    }
    if (rule !== undefined) {
      throw new BackendError(
        `${where} has a default retention rule: remove it, repo locks each object itself (a default rule would lock lock files, which must stay deletable)`,
        { path: this.s3.bucket },
      );
    }
  }

  async retention(h: Handle): Promise<Retention | undefined> {
    const rel = handleToPath(h);
    const out = await this.s3.call(rel, 'read the lock of', () =>
      this.s3.client.send(new HeadObjectCommand({ Bucket: this.s3.bucket, Key: this.s3.key(rel) })),
    );
    const mode = fromS3Mode(out.ObjectLockMode);
    const until = out.ObjectLockRetainUntilDate;
    if (mode === undefined || until === undefined || until.getTime() <= this.now().getTime()) return undefined;
    return { mode, until };
  }

  async extendRetention(h: Handle, until: Date): Promise<boolean> {
    const rel = handleToPath(h);
    const cur = await this.retention(h);
    if (cur !== undefined && cur.until.getTime() >= until.getTime()) return false;
    const mode = cur?.mode ?? this.policy?.mode;
    if (mode === undefined) {
      throw new RepoError('INVALID_ARGUMENT', `cannot lock ${rel}: the repository has no object lock policy`, {
        file: rel,
      });
    }
    await this.s3.call(rel, 'extend the lock of', () =>
      this.s3.client.send(
        new PutObjectRetentionCommand({
          Bucket: this.s3.bucket,
          Key: this.s3.key(rel),
          Retention: { Mode: toS3Mode(mode), RetainUntilDate: until },
        }),
      ),
    );
    return true;
  }

  /**
   * Refuses to remove an object that is still locked. On a versioned bucket a plain DELETE of a locked object
   * "succeeds" by hiding it behind a delete marker while its bytes stay stored (and billed) until the lock ends;
   * the repository would lose the file without freeing anything.
   */
  refuseLockedRemoval(rel: string, out: { ObjectLockMode?: string; ObjectLockRetainUntilDate?: Date }): void {
    const until = out.ObjectLockRetainUntilDate;
    if (fromS3Mode(out.ObjectLockMode) === undefined || until === undefined) return;
    if (until.getTime() <= this.now().getTime()) return;
    throw new BackendError(`cannot remove ${rel}: it is locked until ${until.toISOString()}`, {
      file: rel,
      reason: 'object-locked',
      lockedUntil: until.toISOString(),
    });
  }
}
