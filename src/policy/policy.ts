// The retention policy (restic's `forget --keep-*` options): its shape, count parsing, emptiness and description.
// Describes what to keep; must never touch a repository or decide anything by itself.

import { RepoError } from '../core/errors.js';
import { type Duration, formatDuration, isZeroDuration, validateDuration } from './duration.js';

export interface RetentionPolicy {
  /** Counts: 0 or absent = rule off, -1 = unlimited. */
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  /** Durations relative to the newest snapshot; an all-zero duration switches the rule off. */
  within?: Duration;
  withinHourly?: Duration;
  withinDaily?: Duration;
  withinWeekly?: Duration;
  withinMonthly?: Duration;
  withinYearly?: Duration;
  /** --keep-tag: each entry is a list of tags that must ALL be present; entries are alternatives. '' matches untagged snapshots. */
  tags?: string[][];
}

export const COUNT_RULES = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
export const WITHIN_RULES = ['withinHourly', 'withinDaily', 'withinWeekly', 'withinMonthly', 'withinYearly'] as const;

/** "N" (N ≥ 0), "-1" or "unlimited" (→ -1). Anything else is INVALID_ARGUMENT. */
export function parseKeepCount(s: string): number {
  const text = s.trim();
  if (text === 'unlimited' || text === '-1') return -1;
  if (!/^\d+$/.test(text)) {
    throw new RepoError(
      'INVALID_ARGUMENT',
      `invalid count ${JSON.stringify(s)}: use a whole number ≥ 0, or -1 or 'unlimited' for no limit`,
    );
  }
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RepoError('INVALID_ARGUMENT', `count ${text} is too large`);
  return n;
}

/** True when nothing is configured (restic's ExpirePolicy.Empty): all counts 0, all durations zero, no tag lists. */
export function isEmptyPolicy(p: RetentionPolicy): boolean {
  if (p.tags && p.tags.length > 0) return false;
  if (COUNT_RULES.some((k) => (p[k] ?? 0) !== 0)) return false;
  return isZeroDuration(p.within) && WITHIN_RULES.every((k) => isZeroDuration(p[k]));
}

/** Throws INVALID_ARGUMENT for counts below -1 or non-integers, and for negative durations. */
export function validatePolicy(p: RetentionPolicy): void {
  for (const k of COUNT_RULES) {
    const n = p[k];
    if (n !== undefined && (!Number.isSafeInteger(n) || n < -1)) {
      throw new RepoError('INVALID_ARGUMENT', `keep-${k}: must be an integer ≥ 0 or -1 (unlimited), got ${n}`);
    }
  }
  validateDuration('keep-within', p.within);
  for (const k of WITHIN_RULES) validateDuration(k, p[k]);
}

/** restic's ExpirePolicy.String(), e.g. "keep 7 daily, 4 weekly snapshots, daily snapshots within 7d". */
export function describePolicy(p: RetentionPolicy): string {
  const names: Record<(typeof COUNT_RULES)[number], string> = {
    last: 'latest',
    hourly: 'hourly',
    daily: 'daily',
    weekly: 'weekly',
    monthly: 'monthly',
    yearly: 'yearly',
  };
  const keeps: string[] = [];
  for (const k of COUNT_RULES) {
    const n = p[k] ?? 0;
    if (n > 0) keeps.push(`${n} ${names[k]}`);
    else if (n === -1) keeps.push(`all ${names[k]}`);
  }
  const keepw: string[] = [];
  for (const k of WITHIN_RULES) {
    const d = p[k];
    if (d && !isZeroDuration(d)) keepw.push(`${k.slice(6).toLowerCase()} snapshots within ${formatDuration(d)}`);
  }
  let s = keeps.length > 0 ? `${keeps.join(', ')} snapshots` : '';
  if (keepw.length > 0) s += (s ? ', ' : '') + keepw.join(', ');
  if (p.tags && p.tags.length > 0) {
    s += (s ? ' and ' : '') + `all snapshots with tags [${p.tags.map(formatTagList).join(' ')}]`;
  }
  if (p.within && !isZeroDuration(p.within))
    s += (s ? ' and ' : '') + `all snapshots within ${formatDuration(p.within)} of the newest`;
  return s === '' ? 'remove' : `keep ${s}`;
}

/** restic's TagList.String(): "[a, b]". */
export function formatTagList(l: string[]): string {
  return `[${l.join(', ')}]`;
}
