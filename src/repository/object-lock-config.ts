// The repository's Object Lock policy (spec §5, config member `object_lock`) and handing it to the storage: the
// config is itself written locked, so nobody holding the storage credential can switch the policy off.
// Must never silently write unlocked objects into a repository that asks for locks.

import type { Backend } from '../backend/backend.js';
import { type ObjectLockPolicy, validateObjectLockPolicy } from '../backend/object-lock.js';
import { FormatError, RepoError, errorMessage } from '../core/errors.js';

/** The policy a config records, or undefined for a repository without Object Lock. FormatError if malformed. */
export function objectLockOf(config: { object_lock?: unknown }): ObjectLockPolicy | undefined {
  const v = config.object_lock;
  if (v === undefined) return undefined;
  const o = v as Partial<ObjectLockPolicy> | null;
  try {
    if (typeof o !== 'object' || o === null || typeof o.mode !== 'string' || typeof o.days !== 'number') {
      throw new RepoError('INVALID_ARGUMENT', 'object_lock must be {"mode": …, "days": …}');
    }
    return validateObjectLockPolicy({ mode: o.mode, days: o.days });
  } catch (err) {
    throw new FormatError(`config is invalid: ${errorMessage(err)}`, { file: 'config' }, { cause: err });
  }
}

/**
 * Before init writes anything: the storage must offer Object Lock, and writes the first key file and the config
 * already locked (an S3 backend also creates a missing bucket with Object Lock enabled).
 */
export function prepareLockedInit(backend: Backend, policy: ObjectLockPolicy): void {
  const lock = backend.retention?.();
  if (lock === undefined) {
    throw new RepoError(
      'INVALID_ARGUMENT',
      `--object-lock needs an s3: repository; ${backend.location} cannot lock objects`,
    );
  }
  lock.setWritePolicy(validateObjectLockPolicy(policy));
}

/** After the layout exists: the bucket must have Object Lock enabled (checked before the first file is written). */
export async function checkLockedInit(backend: Backend): Promise<void> {
  await backend.retention?.()?.checkLockEnabled();
}

/**
 * When a repository is opened: a config with a policy makes the storage write locked objects from now on. A storage
 * without the capability (a copy of the repository on a local disk) can only warn that new files stay unlocked.
 */
export function applyObjectLock(backend: Backend, config: { object_lock?: unknown }, warn: (m: string) => void): void {
  const policy = objectLockOf(config);
  if (policy === undefined) return;
  const lock = backend.retention?.();
  if (lock === undefined) {
    warn(
      `the repository asks for ${policy.mode} object lock, but ${backend.location} cannot lock objects: new files are not locked`,
    );
    return;
  }
  lock.setWritePolicy(policy);
}
