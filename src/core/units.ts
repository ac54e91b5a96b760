// The one grammar for sizes ("1.5G", "8 MiB"), durations ("1y2m3d4h", "90s", "1h30min"), and byte and
// elapsed-time formatting.
// Every flag, config key and environment variable that takes a size or a length of time parses it here, so
// "1.5G" and "8 MiB" mean the same everywhere and no spelling means minutes in one place and months in another.
// Pure functions; every failure is RepoError('INVALID_ARGUMENT') naming the flag or key.

import { RepoError } from './errors.js';

// ---------------------------------------------------------------------------------------------------------------
// Sizes

/** Powers of 1024, as restic reads sizes: K = KB = KiB = 1024 (there are no decimal units). */
const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};
const SIZE_RE = /^(\d+(?:\.\d+)?|\.\d+)\s*(?:([kmgtp])(?:i?b)?|(b))?$/i;

/**
 * A size: a non-negative number (fractions allowed, rounded down to whole bytes), optional spaces, and an
 * optional unit B, K, M, G, T or P, each optionally followed by B or iB, in any case; all units are powers of
 * 1024. "4096", "512K", "1.5G", "8 MiB", "100mb" → bytes. `what` names the flag or key in the message.
 */
export function parseSize(value: string, what: string): number {
  const m = SIZE_RE.exec(value.trim());
  if (m === null) {
    throw new RepoError(
      'INVALID_ARGUMENT',
      `invalid size ${JSON.stringify(value)} for ${what}: use a number with an optional unit K, M, G or T (powers of 1024), e.g. 512K, 1.5G or 8MiB`,
    );
  }
  const unit = (m[2] ?? m[3] ?? '').toLowerCase();
  const n = Math.floor(Number(m[1]) * SIZE_UNITS[unit]);
  if (!Number.isSafeInteger(n))
    throw new RepoError('INVALID_ARGUMENT', `size ${JSON.stringify(value)} for ${what} is too large`);
  return n;
}

/** 1536 → "1.500 KiB": restic's binary units with three decimals; below 1 KiB whole bytes (rates are fractional). */
export function formatBytes(n: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  if (!Number.isFinite(n)) return `${n} B`;
  if (Math.abs(n) < 1024) return `${Math.round(n)} B`;
  let v = n;
  let u = -1;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(3)} ${units[u]}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Durations

/** A duration as written: each unit at most once. Years and months have no fixed length (calendar units). */
export interface DurationParts {
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
  milliseconds: number;
}

/**
 * What a bare "m" means where the duration is read:
 * - 'months': restic's retention flags (--keep-within*) and the config keys named after them;
 * - 'minutes': restic's Go-duration flags (--retry-lock) and the config key named after it;
 * - 'ambiguous': every flag and key restic does not have: "m" is an error that suggests "min" or "mo".
 */
export type BareM = 'months' | 'minutes' | 'ambiguous';

const FIELD: Record<string, keyof DurationParts> = {
  y: 'years',
  mo: 'months',
  w: 'weeks',
  d: 'days',
  h: 'hours',
  min: 'minutes',
  s: 'seconds',
  ms: 'milliseconds',
};
const TOKEN_RE = /(\d+(?:\.\d+)?)\s*(ms|min|mo|[ywdhms])/y;

function bad(value: string, what: string, why: string, example: string): RepoError {
  return new RepoError(
    'INVALID_ARGUMENT',
    `invalid duration ${JSON.stringify(value)} for ${what}: ${why} (e.g. ${example})`,
  );
}

/**
 * The duration grammar: one or more NUMBER UNIT parts in any order, optional spaces between them, units
 * y (years), mo (months), w (weeks), d (days), h (hours), min (minutes), s (seconds), ms (milliseconds) and
 * "m" whose meaning `bareM` says. Units are lower case, as in restic and Go ("1M" is no duration); each may
 * appear once.
 */
export function parseDurationParts(value: string, what: string, bareM: BareM, example = '1h30min'): DurationParts {
  const text = value.trim();
  const parts: DurationParts = {
    years: 0,
    months: 0,
    weeks: 0,
    days: 0,
    hours: 0,
    minutes: 0,
    seconds: 0,
    milliseconds: 0,
  };
  if (text === '') throw bad(value, what, 'empty', example);
  const seen = new Set<keyof DurationParts>();
  let pos = 0;
  while (pos < text.length) {
    TOKEN_RE.lastIndex = pos;
    const m = TOKEN_RE.exec(text);
    if (m === null) {
      const rest = text.slice(pos);
      if (rest.startsWith('-')) throw bad(value, what, 'negative values are not allowed', example);
      if (/^\d+(\.\d+)?$/.test(rest)) throw bad(value, what, `no unit after ${rest}`, example);
      throw bad(value, what, `cannot read "${rest}" (units: y, mo, w, d, h, min, s, ms)`, example);
    }
    const unit = m[2];
    let field: keyof DurationParts;
    if (unit === 'm') {
      if (bareM === 'ambiguous') {
        throw new RepoError(
          'INVALID_ARGUMENT',
          `ambiguous duration ${JSON.stringify(value)} for ${what}: "m" means months in restic's --keep-within and minutes in its --retry-lock; write ${m[1]}min for minutes or ${m[1]}mo for months`,
        );
      }
      field = bareM;
    } else field = FIELD[unit];
    if (seen.has(field)) throw bad(value, what, `${field} given twice`, example);
    seen.add(field);
    parts[field] = Number(m[1]);
    pos = TOKEN_RE.lastIndex;
    while (text[pos] === ' ') pos++;
  }
  return parts;
}

/** restic's retention duration: whole years, months, days and hours, applied as calendar arithmetic. */
export interface CalendarDuration {
  years: number;
  months: number;
  days: number;
  hours: number;
}

/**
 * A retention duration ("1y2m3d4h", "30d", "2w"): restic's grammar, where m is months; mo, w (7 days) and the
 * other spellings of the one grammar are accepted too. Whole numbers only; minutes and seconds are rejected
 * because retention counts whole hours, as restic does.
 */
export function parseRetentionDuration(value: string, what: string): CalendarDuration {
  const p = parseDurationParts(value, what, 'months', '1y2m3d4h');
  if (p.minutes !== 0 || p.seconds !== 0 || p.milliseconds !== 0)
    throw bad(value, what, 'retention counts whole hours: use y, m (months), w, d and h', '1y2m3d4h');
  for (const k of ['years', 'months', 'weeks', 'days', 'hours'] as const) {
    if (!Number.isSafeInteger(p[k])) throw bad(value, what, `${k} must be a whole number`, '1y2m3d4h');
  }
  return { years: p.years, months: p.months, days: p.days + 7 * p.weeks, hours: p.hours };
}

const MS = {
  weeks: 7 * 86_400_000,
  days: 86_400_000,
  hours: 3_600_000,
  minutes: 60_000,
  seconds: 1000,
  milliseconds: 1,
} as const;

/**
 * A length of time in milliseconds ("90s", "1h30min", "1.5h", "7d", "2w"); a bare number is seconds. Years
 * and months are rejected (they have no fixed length). `bareM` is 'minutes' only for restic's own Go-duration
 * flags and keys (--retry-lock); elsewhere a bare "m" is an error that suggests "min".
 */
export function parseElapsed(
  value: string | number,
  what: string,
  bareM: Exclude<BareM, 'months'> = 'ambiguous',
): number {
  const example = bareM === 'minutes' ? '90s, 5m or 1h30m' : '90s, 30min, 1h or 7d';
  if (typeof value === 'number' || /^\s*\d+(\.\d+)?\s*$/.test(value)) {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw bad(String(value), what, 'must be ≥ 0', example);
    return Math.round(n * 1000);
  }
  const p = parseDurationParts(value, what, bareM, example);
  if (p.years !== 0 || p.months !== 0)
    throw bad(value, what, 'years and months have no fixed length: use w, d or h', example);
  let ms = 0;
  for (const k of Object.keys(MS) as (keyof typeof MS)[]) ms += p[k] * MS[k];
  ms = Math.round(ms);
  if (!Number.isSafeInteger(ms)) throw bad(value, what, 'too large', example);
  return ms;
}

/** Whether `value` is written in the duration grammar (used where a flag takes either a time or an age). */
export function looksLikeDuration(value: string): boolean {
  return /^\s*(\d+(\.\d+)?\s*(ms|min|mo|[ywdhms])\s*)+$/.test(value);
}

/**
 * A length of time in seconds, for people. 'clock' is how restic prints elapsed times and ETAs: "0:05", "12:03",
 * "1:02:03". 'short' is for ages and estimates in sentences: "45s", "12m", "3h 5m", "2d 4h" (seconds below 90 s,
 * minutes below 90 min, then hours and minutes below 48 h, then days and hours). Negative lengths print as 0.
 */
export function formatElapsed(seconds: number, style: 'clock' | 'short' = 'clock'): string {
  const s = Math.max(0, Math.round(seconds));
  if (style === 'clock') {
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = String(s % 60).padStart(2, '0');
    return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
  }
  if (s < 90) return `${s}s`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 === 0 ? `${h}h` : `${h}h ${m % 60}m`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d}d` : `${d}d ${h % 24}h`;
}
