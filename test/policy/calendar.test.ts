// Calendar helpers: wall-clock fields in the string's own offset, ISO weeks at year boundaries, Go AddDate normalization.
// Expected values are hand-checked calendar facts, not outputs of the code under test.
import { describe, expect, it } from 'vitest';
import {
  civilFromDays,
  daysFromCivil,
  isoWeek,
  subtractCalendar,
  wallTime,
  type ZoneOffset,
} from '../../src/policy/calendar.js';
import { parseDuration } from '../../src/policy/index.js';
import { nsToRfc3339 } from '../../src/tree/time.js';

describe('wallTime', () => {
  it('reads the fields in the offset the string was written in', () => {
    const w = wallTime('2024-01-01T00:30:00+02:00');
    expect([w.year, w.month, w.day, w.hour, w.offsetMin]).toEqual([2024, 1, 1, 0, 120]);
    expect(nsToRfc3339(w.ns)).toBe('2023-12-31T22:30:00.000000000Z');
    const v = wallTime('2023-12-31T20:15:00.5-05:30');
    expect([v.year, v.month, v.day, v.hour, v.offsetMin]).toEqual([2023, 12, 31, 20, -330]);
  });

  it('handles leap days and times before 1970', () => {
    expect(wallTime('2024-02-29T23:59:59Z')).toMatchObject({ year: 2024, month: 2, day: 29, hour: 23 });
    expect(wallTime('1900-03-01T00:00:00Z')).toMatchObject({ year: 1900, month: 3, day: 1, hour: 0 });
    expect(wallTime('1969-12-31T23:00:00Z')).toMatchObject({ year: 1969, month: 12, day: 31, hour: 23 });
  });

  it('round-trips civil dates', () => {
    for (const [y, m, d] of [
      [1970, 1, 1],
      [2000, 2, 29],
      [1600, 12, 31],
      [-1, 3, 1],
      [2100, 2, 28],
      [9999, 12, 31],
    ]) {
      expect(civilFromDays(daysFromCivil(BigInt(y), BigInt(m), BigInt(d)))).toEqual({ year: y, month: m, day: d });
    }
    expect(daysFromCivil(1970n, 1n, 1n)).toBe(0n);
  });
});

describe('isoWeek', () => {
  it.each([
    ['2020-12-31T12:00:00Z', 2020, 53],
    ['2021-01-03T12:00:00Z', 2020, 53],
    ['2021-01-04T00:00:00Z', 2021, 1],
    ['2024-12-30T00:00:00Z', 2025, 1],
    ['2024-12-29T23:59:59Z', 2024, 52],
    ['2019-12-30T00:00:00Z', 2020, 1],
    ['2016-01-03T00:00:00Z', 2015, 53],
    ['2016-01-04T00:00:00Z', 2016, 1],
    ['2010-01-03T00:00:00Z', 2009, 53],
    ['2008-12-29T00:00:00Z', 2009, 1],
    ['2023-01-01T00:00:00Z', 2022, 52],
    ['2026-12-31T00:00:00Z', 2026, 53],
    ['2021-01-03T23:30:00-02:00', 2020, 53], // Sunday locally, Monday (2021-W01) in UTC
    ['2021-01-04T00:30:00+02:00', 2021, 1], // Monday locally, Sunday in UTC
  ])('%s is %d-W%d', (t, year, week) => {
    expect(isoWeek(wallTime(t))).toEqual({ year, week });
  });
});

describe('subtractCalendar (Go AddDate(-y,-m,-d) then -h hours)', () => {
  const sub = (t: string, d: string) => nsToRfc3339(subtractCalendar(wallTime(t), parseDuration(d)));
  it.each([
    ['2024-03-31T12:00:00Z', '1m', '2024-03-02T12:00:00.000000000Z'], // "Feb 31" → Mar 2 (leap year)
    ['2023-03-31T12:00:00Z', '1m', '2023-03-03T12:00:00.000000000Z'], // "Feb 31" → Mar 3
    ['2024-05-31T00:00:00Z', '1m', '2024-05-01T00:00:00.000000000Z'], // "Apr 31" → May 1
    ['2025-01-31T00:00:00Z', '1m', '2024-12-31T00:00:00.000000000Z'],
    ['2024-03-31T00:00:00Z', '1m1d', '2024-03-01T00:00:00.000000000Z'], // "Feb 30" → Mar 1
    ['2024-02-29T00:00:00Z', '1y', '2023-03-01T00:00:00.000000000Z'], // "2023-02-29" → Mar 1
    ['2028-02-29T00:00:00Z', '4y', '2024-02-29T00:00:00.000000000Z'],
    ['2024-01-15T06:00:00Z', '13m', '2022-12-15T06:00:00.000000000Z'],
    ['2024-01-01T03:00:00Z', '4h', '2023-12-31T23:00:00.000000000Z'],
    ['2024-03-01T00:00:00Z', '1d', '2024-02-29T00:00:00.000000000Z'],
    ['2016-01-18T12:02:03Z', '1y2m3d3h', '2014-11-15T09:02:03.000000000Z'],
    ['2016-01-18T12:02:03Z', '1m14d', '2015-12-04T12:02:03.000000000Z'],
    ['2024-03-31T01:00:00+02:00', '1m', '2024-03-01T23:00:00.000000000Z'], // computed in the +02:00 wall clock
    ['2024-01-01T00:00:00.123456789Z', '1d', '2023-12-31T00:00:00.123456789Z'],
  ])('%s minus %s = %s', (t, d, want) => {
    expect(sub(t, d)).toBe(want);
  });

  it('goes past year 1 without overflow (bigint arithmetic)', () => {
    const t = wallTime('2016-01-18T12:02:03Z');
    const cut = subtractCalendar(t, parseDuration('2020y'));
    const year1 = wallTime('0001-01-01T00:00:00Z').ns;
    expect(cut < year1).toBe(true);
    // Proleptic Gregorian year -4 (astronomical numbering), 18 January, 12:02:03 UTC.
    expect(cut).toBe(
      daysFromCivil(-4n, 1n, 18n) * 86_400_000_000_000n + (12n * 3600n + 2n * 60n + 3n) * 1_000_000_000n,
    );
    expect(subtractCalendar(t, parseDuration('99999999y')) < cut).toBe(true);
  });
});

describe('subtractCalendar in a time zone with daylight saving (Go: time.Local, AddDate)', () => {
  // Europe/Berlin's offset at an instant, from the platform's time zone data, whatever TZ the test runs in.
  const fmt = new Intl.DateTimeFormat('en-US', { timeZone: 'Europe/Berlin', timeZoneName: 'longOffset' });
  const berlin: ZoneOffset = (ms) => {
    const m = /GMT(?:([+-])(\d{2}):(\d{2}))?/.exec(fmt.format(new Date(ms)))!;
    return m[1] === undefined ? 0 : (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
  };
  const at = (s: string, d: { years?: number; months?: number; days?: number; hours?: number }, zone?: ZoneOffset) =>
    new Date(
      Number(subtractCalendar(wallTime(s), { years: 0, months: 0, days: 0, hours: 0, ...d }, zone) / 1_000_000n),
    ).toISOString();

  it.each([
    // newest, duration, cutoff in Berlin's wall clock (Go), cutoff with the fixed offset
    ['2024-04-10T12:00:00+02:00', { days: 11 }, '2024-03-30T11:00:00.000Z', '2024-03-30T10:00:00.000Z'],
    ['2024-04-10T02:30:00+02:00', { days: 10 }, '2024-03-31T01:30:00.000Z', '2024-03-31T00:30:00.000Z'], // spring gap: 03:30 CEST
    ['2024-11-05T02:30:00+01:00', { days: 9 }, '2024-10-27T01:30:00.000Z', '2024-10-27T01:30:00.000Z'], // repeated hour: the later 02:30
    ['2024-11-05T12:00:00+01:00', { days: 10 }, '2024-10-26T10:00:00.000Z', '2024-10-26T11:00:00.000Z'],
    ['2024-04-10T12:00:00+02:00', { months: 1, hours: 2 }, '2024-03-10T09:00:00.000Z', '2024-03-10T08:00:00.000Z'],
  ])('%s minus %j', (newest, d, zoned, fixed) => {
    expect(at(newest, d, berlin)).toBe(zoned);
    expect(at(newest, d)).toBe(fixed);
  });

  it('a time stored in another offset than the zone has at that instant keeps its fixed offset, as Go does', () => {
    expect(at('2024-04-10T12:00:00+05:00', { days: 11 }, berlin)).toBe('2024-03-30T07:00:00.000Z');
    expect(at('2024-04-10T10:00:00Z', { days: 11 }, berlin)).toBe('2024-03-30T10:00:00.000Z');
  });
});
