// Retention durations like restic's "1y2m3d4h" (years, months, days, hours; 'm' is months, there are no minutes).
// Parsing and formatting only; must never accept a negative or non-integer component.

import { RepoError } from '../core/errors.js';
import { parseRetentionDuration, type CalendarDuration } from '../core/units.js';

export type Duration = CalendarDuration;

/**
 * Parses restic's "1y2m3d4h" or any subset of its parts, e.g. "7d", "2m12h" (m = months), in the one duration
 * grammar of src/core/units.ts (which also takes "mo", "w" and spaces). The parts may come in any order, as
 * restic allows; a unit given twice, an empty string, a missing unit or number, a negative or fractional number
 * and anything else is INVALID_ARGUMENT naming `what` (restic rejects negatives in forget too).
 */
export function parseDuration(s: string, what = '--keep-within'): Duration {
  return parseRetentionDuration(s, what);
}

/** True when every component is zero: the rule is switched off, as in restic. */
export function isZeroDuration(d: Duration | undefined): boolean {
  return !d || (d.years === 0 && d.months === 0 && d.days === 0 && d.hours === 0);
}

/** restic's Duration.String(): non-zero parts only, e.g. { years: 1, months: 2 } → "1y2m". */
export function formatDuration(d: Duration): string {
  let s = '';
  if (d.years !== 0) s += `${d.years}y`;
  if (d.months !== 0) s += `${d.months}m`;
  if (d.days !== 0) s += `${d.days}d`;
  if (d.hours !== 0) s += `${d.hours}h`;
  return s;
}

export function validateDuration(name: string, d: Duration | undefined): void {
  if (!d) return;
  for (const k of ['years', 'months', 'days', 'hours'] as const) {
    if (!Number.isSafeInteger(d[k]) || d[k] < 0) {
      throw new RepoError('INVALID_ARGUMENT', `${name}: ${k} must be a non-negative integer, got ${d[k]}`);
    }
  }
}
