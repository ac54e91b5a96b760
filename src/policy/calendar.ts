// Calendar arithmetic for retention: wall-clock fields of an RFC 3339 time in its own offset, ISO weeks, Go-style AddDate.
// Pure integer math on nanosecond bigints; never reads the clock or the machine's time zone.

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
  const weekday = Number(((w.days + 3n) % 7n + 7n) % 7n); // Monday = 0 (1970-01-01 was a Thursday)
  const thursday = w.days - BigInt(weekday) + 3n;
  const year = civilFromDays(thursday).year;
  const week = Number((thursday - daysFromCivil(BigInt(year), 1n, 1n)) / 7n) + 1;
  return { year, week };
}

/**
 * Go's t.AddDate(-years, -months, -days).Add(-hours * time.Hour) in t's fixed offset: the month is
 * normalized first (into the year), then the day overflows into following months, so 2024-03-31
 * minus one month is "2024-02-31", which becomes 2024-03-02.
 */
export function subtractCalendar(t: WallTime, d: { years: number; months: number; days: number; hours: number }): bigint {
  const monthIndex = BigInt(t.year) * 12n + BigInt(t.month - 1) - BigInt(d.years) * 12n - BigInt(d.months);
  const year = floorDiv(monthIndex, 12n);
  const month = monthIndex - year * 12n + 1n;
  const days = daysFromCivil(year, month, 1n) + BigInt(t.day - 1) - BigInt(d.days);
  const local = days * NS_PER_DAY + t.timeOfDayNs;
  return local - BigInt(t.offsetMin) * NS_PER_MIN - BigInt(d.hours) * NS_PER_HOUR;
}
