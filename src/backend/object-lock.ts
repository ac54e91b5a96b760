// Object Lock as an optional backend capability: the write policy (mode and days), and reading and extending
// the retain-until date of one stored object. Only a store that can make an object immutable offers it (S3 with
// Object Lock); maintenance asks for it through Backend.retention() and must never reach a store class directly.

import { RepoError } from '../core/errors.js';
import type { FileType, ObjectLockMode, ObjectLockPolicy } from './backend.js';

// The types live in backend.ts (the Backend interface names them); they are re-exported here with their helpers.
export type { ObjectLockMode, ObjectLockPolicy, ObjectRetention, Retention } from './backend.js';

/** The longest lock accepted: S3 itself allows 100 years; a decade is already a very expensive mistake. */
export const MAX_LOCK_DAYS = 3650;

/**
 * Lock files are deleted by every command that takes a lock and index files are replaced by every prune, and both can
 * be rebuilt (repair index reads the packs), so they are written unlocked. Everything else (config, keys, packs,
 * snapshots, audit entries) is locked.
 */
export function isLockedType(type: FileType): boolean {
  return type !== 'locks' && type !== 'index';
}

/**
 * The retain-until date of an object written at `now`: `days` whole days after the end of the current UTC day.
 * Every object written on one day gets the same date, so the packs a backup writes are locked exactly as long as
 * its snapshot, and extending an older pack to a snapshot's date is one request per pack, never per object per run.
 */
export function retainUntil(now: Date, days: number): Date {
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return new Date(midnight + (days + 1) * 86_400_000);
}

export function parseObjectLockMode(s: string): ObjectLockMode {
  if (s === 'compliance' || s === 'governance') return s;
  throw new RepoError('INVALID_ARGUMENT', `invalid object lock mode "${s.slice(0, 40)}": use compliance or governance`);
}

/** Throws RepoError('INVALID_ARGUMENT') unless p is a usable policy; returns it. */
export function validateObjectLockPolicy(p: ObjectLockPolicy): ObjectLockPolicy {
  parseObjectLockMode(p.mode);
  if (!Number.isInteger(p.days) || p.days < 1 || p.days > MAX_LOCK_DAYS) {
    throw new RepoError(
      'INVALID_ARGUMENT',
      `lock days must be a whole number from 1 to ${MAX_LOCK_DAYS}, got ${p.days}`,
    );
  }
  return p;
}
