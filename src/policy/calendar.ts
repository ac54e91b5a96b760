// Calendar arithmetic for retention: wall-clock fields of an RFC 3339 time in its own offset, ISO weeks, Go-style AddDate.
// Pure integer math on nanosecond bigints; never reads the clock. The time zone is passed in (ZoneOffset), so
// that within-durations follow daylight-saving changes as restic's do.

import { FormatError } from '../core/errors.js';
import { rfc3339ToNs } from '../tree/time.js';

const NS_PER_MIN = 60_000_000_000n;
const NS_PER_HOUR = 3_600_000_000_000n;
const NS_PER_DAY = 86_400_000_000_000n;
const ZONE_RE = /(Z|[+-]\d{2}:\d{2})$/;

export interface WallTime {
  ns: bigint; // instant, nanoseconds since the epoch (UTC)
  offsetMin: number; // the string's UTC offset in minutes
  year: number;
  month: number; // 1..12
  day: number; // 1..31
  hour: number; // 0..23
  days: bigint; // local days since 1970-01-01
  timeOfDayNs: bigint; // local nanoseconds since midnight
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
export function daysFromCivil(y: bigint, m: bigint, d: bigint): bigint {
  const yy = m <= 2n ? y - 1n : y;
  const era = floorDiv(yy, 400n);
  const yoe = yy - era * 400n;
  const doy = (153n * (m > 2n ? m - 3n : m + 9n) + 2n) / 5n + d - 1n;
  const doe = yoe * 365n + yoe / 4n - yoe / 100n + doy;
  return era * 146097n + doe - 719468n;
}

export function civilFromDays(days: bigint): { year: number; month: number; day: number } {
  const z = days + 719468n;
  const era = floorDiv(z, 146097n);
  const doe = z - era * 146097n;
  const yoe = (doe - doe / 1460n + doe / 36524n - doe / 146096n) / 365n;
  const doy = doe - (365n * yoe + yoe / 4n - yoe / 100n);
  const mp = (5n * doy + 2n) / 153n;
  const day = doy - (153n * mp + 2n) / 5n + 1n;
  const month = mp < 10n ? mp + 3n : mp - 9n;
  const year = yoe + era * 400n + (month <= 2n ? 1n : 0n);
  return { year: Number(year), month: Number(month), day: Number(day) };
}

/** Parses an RFC 3339 time and returns its wall-clock fields in the offset written in the string. */
export function wallTime(s: string): WallTime {
  const ns = rfc3339ToNs(s);
  const zone = ZONE_RE.exec(s);
  if (!zone) throw new FormatError(`invalid timestamp ${JSON.stringify(s)}`);
  let offsetMin = 0;
  if (zone[1] !== 'Z') {
    const sign = zone[1][0] === '-' ? -1 : 1;
    offsetMin = sign * (Number(zone[1].slice(1, 3)) * 60 + Number(zone[1].slice(4, 6)));
  }
  const local = ns + BigInt(offsetMin) * NS_PER_MIN;
  const days = floorDiv(local, NS_PER_DAY);
  const timeOfDayNs = local - days * NS_PER_DAY;
  const { year, month, day } = civilFromDays(days);
  return { ns, offsetMin, year, month, day, hour: Number(timeOfDayNs / NS_PER_HOUR), days, timeOfDayNs };
}

/** ISO 8601 year and week number (weeks start on Monday; week 1 holds the year's first Thursday), like Go's ISOWeek. */
export function isoWeek(w: Pick<WallTime, 'days'>): { year: number; week: number } {
  const weekday = Number((((w.days + 3n) % 7n) + 7n) % 7n); // Monday = 0 (1970-01-01 was a Thursday)
  const thursday = w.days - BigInt(weekday) + 3n;
  const year = civilFromDays(thursday).year;
  const week = Number((thursday - daysFromCivil(BigInt(year), 1n, 1n)) / 7n) + 1;
  return { year, week };
}

/** The UTC offset in minutes east of a time zone at an instant (ms since the epoch). */
export type ZoneOffset = (epochMs: number) => number;

/** The machine's local time zone (TZ), the zone Go's time.Local is. */
export const machineZone: ZoneOffset = (ms) => {
  const off = -new Date(ms).getTimezoneOffset();
  return off === 0 ? 0 : off; // never -0
};

/**
 * Go's time.Date for a wall-clock time in `zone`: the offset in effect at the wall time read as UTC, unless the
 * instant that gives lies in another zone period, then that period's offset. This picks Go's instant for wall
 * times a daylight-saving change skips (02:30 in a spring gap → 03:30) or repeats (the later one).
 */
function zonedInstant(localNs: bigint, zone: ZoneOffset): bigint {
  const wallMs = Number(floorDiv(localNs, 1_000_000n));
  let off = zone(wallMs);
  const other = zone(wallMs - off * 60_000);
  if (other !== off) off = other;
  return localNs - BigInt(off) * NS_PER_MIN;
}

/**
 * Go's t.AddDate(-years, -months, -days).Add(-hours * time.Hour) in t's fixed offset: the month is
 * normalized first (into the year), then the day overflows into following months, so 2024-03-31
 * minus one month is "2024-02-31", which becomes 2024-03-02. With `zone`, a time in that zone's offset is
 * moved in that zone's wall clock (a day before 12:00 CEST just after the spring change is 12:00 CET, 23 h).
 */
export function subtractCalendar(
  t: WallTime,
  d: { years: number; months: number; days: number; hours: number },
  zone?: ZoneOffset,
): bigint {
  const monthIndex = BigInt(t.year) * 12n + BigInt(t.month - 1) - BigInt(d.years) * 12n - BigInt(d.months);
  const year = floorDiv(monthIndex, 12n);
  const month = monthIndex - year * 12n + 1n;
  const days = daysFromCivil(year, month, 1n) + BigInt(t.day - 1) - BigInt(d.days);
  const local = days * NS_PER_DAY + t.timeOfDayNs;
  // Go reads a stored time whose offset is the local zone's at that instant as a local time (time.Parse), and
  // AddDate then keeps the wall clock across daylight-saving changes; any other offset stays fixed.
  const inZone = zone !== undefined && zone(Number(floorDiv(t.ns, 1_000_000n))) === t.offsetMin;
  const instant = inZone ? zonedInstant(local, zone) : local - BigInt(t.offsetMin) * NS_PER_MIN;
  return instant - BigInt(d.hours) * NS_PER_HOUR;
}
