// Node times for the plan: a file's mtime and atime as whole seconds plus nanoseconds, and as the double
// Node's utimes wants. The plan parses two times per file, and the general RFC 3339 parser (a regular
// expression, Date.UTC and bigint arithmetic) cost a tenth of a second per 40k files, all before the first
// file is written. This reads the form the format stores (spec §9: UTC, nine fractional digits) directly.
// Must never differ from tree/time.ts and metadata.ts: anything else goes through them.

import { rfc3339ToNs } from '../tree/time.js';
import { nsToNodeSeconds } from './metadata.js';

export interface PlanTime {
  /** Whole seconds since the epoch (floor) and nanoseconds, 0 ≤ ns < 1e9. */
  s: number;
  ns: number;
  /** As Node's utimes wants it (nsToNodeSeconds). */
  seconds: number;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The value of `len` decimal digits at `at`, or -1 if one is not a digit. */
function digits(s: string, at: number, len: number): number {
  let v = 0;
  for (let i = at; i < at + len; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** The stored form "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" with a year from 100 and a month 1-12, else undefined. */
function parseStored(t: string): [number, number] | undefined {
  if (
    t.length !== 30 ||
    t.charCodeAt(29) !== 90 /* Z */ ||
    t[4] !== '-' ||
    t[7] !== '-' ||
    t[10] !== 'T' ||
    t[13] !== ':' ||
    t[16] !== ':' ||
    t[19] !== '.'
  )
    return undefined;
  const y = digits(t, 0, 4);
  const mo = digits(t, 5, 2);
  const d = digits(t, 8, 2);
  const h = digits(t, 11, 2);
  const mi = digits(t, 14, 2);
  const sec = digits(t, 17, 2);
  const ns = digits(t, 20, 9);
  // Date.UTC (behind rfc3339ToNs) maps years 0-99 to 1900-1999 and carries months out of range into
  // other years; those rare forms take the general path. Days, hours, minutes and seconds carry linearly in both.
  if (y < 100 || mo < 1 || mo > 12 || d < 0 || h < 0 || mi < 0 || sec < 0 || ns < 0) return undefined;
  return [daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec, ns];
}

/** Whole seconds (floor) and nanoseconds of a time in ns. */
function splitNs(ns: bigint): [number, number] {
  const s = ns >= 0n ? ns / 1_000_000_000n : -((-ns + 999_999_999n) / 1_000_000_000n);
  return [Number(s), Number(ns - s * 1_000_000_000n)];
}

/** Seconds below this times 1e6 are exact doubles, so the microsecond rounding can be done without bigints. */
const EXACT_SECONDS = 9e9;

/** Parses a node's time; throws FormatError (from tree/time.ts) for anything that is not RFC 3339. */
export function planTime(t: string): PlanTime {
  const fast = parseStored(t);
  if (fast !== undefined && fast[0] >= 0 && fast[0] < EXACT_SECONDS) {
    const [s, ns] = fast;
    // nsToNodeSeconds rounds to the nearest microsecond (half away from zero) and aims at its middle.
    return { s, ns, seconds: (s * 1e6 + Math.floor((ns + 500) / 1000)) / 1e6 + 5e-7 };
  }
  const big = rfc3339ToNs(t);
  const [s, ns] = splitNs(big);
  return { s, ns, seconds: nsToNodeSeconds(big) };
}
