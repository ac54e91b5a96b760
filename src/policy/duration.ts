// Retention durations like restic's "1y2m3d4h" (years, months, days, hours; 'm' is months, there are no minutes).
// Parsing and formatting only; must never accept a negative or non-integer component.

import { RepoError } from '../core/errors.js';

export interface Duration {
  years: number;
  months: number;
  days: number;
  hours: number;
}

const UNITS = { y: 'years', m: 'months', d: 'days', h: 'hours' } as const;

function invalid(s: string, why: string): RepoError {
  return new RepoError('INVALID_ARGUMENT', `invalid duration ${JSON.stringify(s)}: ${why} (expected e.g. 1y2m3d4h)`);
}

/**
 * Parses "1y2m3d4h" or any subset of its parts, e.g. "7d", "2m12h". Surrounding whitespace is ignored and
 * the parts may come in any order, as restic allows; a unit given twice, an empty string, a missing unit or
 * number, a negative number and anything else is INVALID_ARGUMENT (restic rejects negatives in forget too).
 */
export function parseDuration(s: string): Duration {
  const text = s.trim();
  if (text === '') throw invalid(s, 'empty');
  const d: Duration = { years: 0, months: 0, days: 0, hours: 0 };
  const seen = new Set<string>();
  const re = /(\d+)([a-zA-Z]?)/y;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw invalid(s, text[pos] === '-' ? 'negative values are not allowed' : `no number at "${text.slice(pos)}"`);
    const [, digits, unit] = m;
    if (unit === '') throw invalid(s, `no unit after number ${digits}`);
    if (!(unit in UNITS)) throw invalid(s, `unknown unit "${unit}" (use y, m, d or h)`);
    if (seen.has(unit)) throw invalid(s, `unit "${unit}" given twice`);
    const n = Number(digits);
    if (!Number.isSafeInteger(n)) throw invalid(s, `number ${digits} is too large`);
    seen.add(unit);
    d[UNITS[unit as keyof typeof UNITS]] = n;
    pos = re.lastIndex;
  }
  return d;
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
