// Least-privilege IAM policies for a repository in S3 (`repo s3 policy`), one per role of `repo serve`:
// backup creates and reads, restore only reads, admin does everything. Built from the key layout of s3.ts
// (PREFIX/config, PREFIX/keys/…, PREFIX/data/xx/…, …); the caveats IAM cannot express are returned as notes.

import { RepoError } from '../core/errors.js';
import { parseS3Location } from './s3-location.js';

export const S3_POLICY_ROLES = ['backup', 'restore', 'admin'] as const;
export type S3PolicyRole = (typeof S3_POLICY_ROLES)[number];

/** The file types a backup creates (never config or keys: those decide who can open the repository). */
const BACKUP_CREATES = ['data', 'index', 'snapshots', 'locks', 'audit'] as const;

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string[]>>;
}

export interface IamPolicy {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

export interface S3PolicyResult {
  bucket: string;
  prefix: string;
  policy: IamPolicy;
  /** What the policy cannot enforce, and what closes the gap. */
  notes: string[];
}

/** Bucket and prefix from `BUCKET[/PREFIX]`, or an `s3:` location. */
export function policyTarget(arg: string): { bucket: string; prefix: string } {
  const loc = parseS3Location(arg.replace(/^s3:/, ''));
  return { bucket: loc.bucket, prefix: loc.prefix };
}

export function s3Policy(role: string, target: string, partition = 'aws'): S3PolicyResult {
  if (!(S3_POLICY_ROLES as readonly string[]).includes(role))
    throw new RepoError('INVALID_ARGUMENT', `--role must be one of ${S3_POLICY_ROLES.join(', ')}`);
  if (!/^aws(-[a-z-]+)?$/.test(partition)) throw new RepoError('INVALID_ARGUMENT', 'invalid --partition');
  const { bucket, prefix } = policyTarget(target);
  const bucketArn = `arn:${partition}:s3:::${bucket}`;
  const under = (rel: string) => `${bucketArn}/${prefix === '' ? '' : `${prefix}/`}${rel}`;
  const list: PolicyStatement = {
    Sid: 'ListRepository',
    Effect: 'Allow',
    Action: ['s3:ListBucket', 's3:GetBucketLocation'],
    Resource: [bucketArn],
    ...(prefix === '' ? {} : { Condition: { StringLike: { 's3:prefix': [prefix, `${prefix}/*`] } } }),
  };
  const read: PolicyStatement = {
    Sid: 'ReadRepository',
    Effect: 'Allow',
    Action: ['s3:GetObject', 's3:GetObjectRetention'],
    Resource: [under('*')],
  };
  const statements: PolicyStatement[] = [list, read];
  const notes: string[] = [];
  if (role === 'backup') {
    statements.push(
      {
        Sid: 'CreateBackupFiles',
        Effect: 'Allow',
        // Multipart uploads (large packs) need the abort and part listing too; extending a retention date
        // (Object Lock) is PutObjectRetention, which cannot shorten one without BypassGovernanceRetention.
        Action: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts', 's3:PutObjectRetention'],
        Resource: BACKUP_CREATES.map((t) => under(`${t}/*`)),
      },
      { Sid: 'RemoveLocks', Effect: 'Allow', Action: ['s3:DeleteObject'], Resource: [under('locks/*')] },
    );
    notes.push(
      'IAM cannot forbid overwriting: s3:PutObject on an existing key replaces it. Enable bucket versioning (this role has no s3:DeleteObjectVersion, so a replaced or deleted object keeps its old version) or, better, S3 Object Lock (`repo init --object-lock`, docs/object-lock.md), under which no version can be removed before its retain-until date.',
      'S3 cannot tell whose lock a file is: this role may delete any file under locks/ (only lock files, which hold no backup data).',
      'Restore with a restore-role credential needs --no-lock: creating a lock file is a write.',
    );
  } else if (role === 'admin') {
    statements.push({
      Sid: 'ManageRepository',
      Effect: 'Allow',
      Action: [
        's3:PutObject',
        's3:DeleteObject',
        's3:AbortMultipartUpload',
        's3:ListMultipartUploadParts',
        's3:PutObjectRetention',
      ],
      Resource: [under('*')],
    });
    statements.push({
      Sid: 'CreateBucket',
      Effect: 'Allow',
      Action: ['s3:CreateBucket', 's3:GetBucketObjectLockConfiguration', 's3:GetBucketVersioning'],
      Resource: [bucketArn],
    });
    notes.push(
      'Not granted: s3:DeleteObjectVersion and s3:BypassGovernanceRetention. With versioning or Object Lock, old versions stay until a bucket owner removes them (or their retention ends).',
    );
  } else {
    notes.push('Read-only: use `--no-lock` with this credential (creating a lock file is a write).');
  }
  return { bucket, prefix, policy: { Version: '2012-10-17', Statement: statements }, notes };
}
