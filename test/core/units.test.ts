// The one grammar for sizes, durations and byte formatting (src/core/units.ts), as tables: every spelling the
// README's table documents, and every rejected one with the words of its message.
import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatElapsed,
  looksLikeDuration,
  parseElapsed,
  parseRetentionDuration,
  parseSize,
} from '../../src/core/units.js';
import { parseMaxUnused } from '../../src/maintenance/prune-plan.js';
import { parseSubset } from '../../src/maintenance/subset.js';

const K = 1024;
const M = K * K;
const G = K * M;

describe('sizes', () => {
  it.each([
    ['0', 0],
    ['4096', 4096],
    ['10b', 10],
    ['10 B', 10],
    ['512K', 512 * K],
    ['512k', 512 * K],
    ['512KB', 512 * K],
    ['512KiB', 512 * K],
    ['16M', 16 * M],
    ['8MiB', 8 * M],
    ['8 MiB', 8 * M],
    ['100mb', 100 * M],
    ['1.5G', 1.5 * G],
    ['1.5 GiB', 1.5 * G],
    ['2T', 2 * K * G],
    ['.5M', M / 2],
    ['1.0001K', 1024],
    [' 7M ', 7 * M],
    ['1P', K * K * G],
  ])('%j is %d bytes', (text, bytes) => {
    expect(parseSize(text, '--x')).toBe(bytes);
  });

  it.each(['', 'M', '-1M', '1.5.2M', '1X', '1 M B', '1MiBs', 'lots', '1e3', '9999999999999P'])(
    '%j is rejected naming the flag',
    (text) => {
      expect(() => parseSize(text, '--max-repack-size')).toThrow(/--max-repack-size/);
    },
  );

  it('every flag that takes a size reads it with the same grammar (the three parsers that disagreed)', () => {
    for (const text of ['1.5G', '8 MiB', '100M', '512k']) {
      const bytes = parseSize(text, 'x');
      expect(parseMaxUnused(text)).toEqual({ kind: 'bytes', value: bytes });
      expect(parseSubset(text)).toEqual({ kind: 'size', bytes });
    }
    expect(parseMaxUnused('5%')).toEqual({ kind: 'percent', value: 5 });
    expect(parseSubset('1/5')).toEqual({ kind: 'slice', n: 1, t: 5 });
  });
});

describe('byte formatting', () => {
  it.each([
    [0, '0 B'],
    [512, '512 B'],
    [1001.7065499939841, '1002 B'],
    [1023.4, '1023 B'],
    [1024, '1.000 KiB'],
    [1536, '1.500 KiB'],
    [16 * M, '16.000 MiB'],
    [1.5 * G, '1.500 GiB'],
    [3 * K * G, '3.000 TiB'],
    [2 * K * K * G, '2.000 PiB'],
    [5000 * K * K * G, '5000.000 PiB'],
  ])('%d → %j', (n, text) => {
    expect(formatBytes(n)).toBe(text);
  });
});

describe('retention durations (restic: m = months)', () => {
  it.each([
    ['1y2m3d4h', { years: 1, months: 2, days: 3, hours: 4 }],
    ['4h1y', { years: 1, months: 0, days: 0, hours: 4 }],
    ['30d', { years: 0, months: 0, days: 30, hours: 0 }],
    ['2m', { years: 0, months: 2, days: 0, hours: 0 }],
    ['2mo', { years: 0, months: 2, days: 0, hours: 0 }],
    ['2w3d', { years: 0, months: 0, days: 17, hours: 0 }],
    ['1y 6m', { years: 1, months: 6, days: 0, hours: 0 }],
    ['0d', { years: 0, months: 0, days: 0, hours: 0 }],
  ])('%j', (text, want) => {
    expect(parseRetentionDuration(text, '--keep-within')).toEqual(want);
  });

  it.each([
    ['', /empty/],
    ['7', /no unit/],
    ['d', /cannot read/],
    ['-1d', /negative/],
    ['1.5d', /whole number/],
    ['30min', /whole hours/],
    ['10s', /whole hours/],
    ['1M', /cannot read/],
    ['1Y', /cannot read/],
    ['1d1d', /days given twice/],
    ['1m2mo', /months given twice/],
    ['3x', /cannot read/],
  ])('%j is rejected: %s', (text, why) => {
    expect(() => parseRetentionDuration(text, '--keep-within-daily')).toThrow(why);
    expect(() => parseRetentionDuration(text, '--keep-within-daily')).toThrow(/--keep-within-daily/);
  });
});

describe('elapsed durations', () => {
  it.each([
    ['90', 90_000],
    ['1.5', 1500],
    ['90s', 90_000],
    ['250ms', 250],
    ['30min', 1_800_000],
    ['1h30min', 5_400_000],
    ['1h 30min', 5_400_000],
    ['1.5h', 5_400_000],
    ['7d', 7 * 86_400_000],
    ['2w', 14 * 86_400_000],
    ['1d12h', 36 * 3_600_000],
  ])('%j is %d ms everywhere', (text, ms) => {
    expect(parseElapsed(text, 'rpo')).toBe(ms);
    expect(parseElapsed(text, '--retry-lock', 'minutes')).toBe(ms);
  });

  it('a bare m means minutes only on restic Go-duration flags; elsewhere it is an error that suggests min', () => {
    expect(parseElapsed('5m', '--retry-lock', 'minutes')).toBe(300_000);
    expect(parseElapsed('1h30m', 'retry-lock', 'minutes')).toBe(5_400_000);
    expect(() => parseElapsed('30m', 'rpo')).toThrow(
      /ambiguous duration "30m" for rpo: .*write 30min for minutes or 30mo for months/,
    );
    expect(() => parseElapsed('1h30m', 'every')).toThrow(/30min/);
  });

  it.each([
    ['', /empty/],
    ['-5s', /negative|≥ 0/],
    ['1y', /no fixed length/],
    ['2mo', /no fixed length/],
    ['5s5s', /twice/],
    ['fast', /cannot read/],
  ])('%j is rejected: %s', (text, why) => {
    expect(() => parseElapsed(text, 'timeout')).toThrow(why);
  });

  it('tells durations from dates (log --since takes either)', () => {
    expect(looksLikeDuration('7d')).toBe(true);
    expect(looksLikeDuration('1h30min')).toBe(true);
    expect(looksLikeDuration('2026-01-01')).toBe(false);
    expect(looksLikeDuration('12:00')).toBe(false);
  });
});

describe('elapsed-time formatting (one formatter, two styles)', () => {
  it.each([
    [0, '0:00', '0s'],
    [-3, '0:00', '0s'],
    [0.4, '0:00', '0s'],
    [5, '0:05', '5s'],
    [59.6, '1:00', '60s'],
    [89, '1:29', '89s'],
    [90, '1:30', '2m'],
    [723, '12:03', '12m'],
    [3599, '59:59', '60m'],
    [5340, '1:29:00', '89m'],
    [5400, '1:30:00', '1h 30m'],
    [3723, '1:02:03', '62m'],
    [7200, '2:00:00', '2h'],
    [11_100, '3:05:00', '3h 5m'],
    [47 * 3600 + 59 * 60, '47:59:00', '47h 59m'],
    [48 * 3600, '48:00:00', '2d'],
    [52 * 3600, '52:00:00', '2d 4h'],
    [14 * 86_400, '336:00:00', '14d'],
  ])('%d s is %j on a clock and %j in a sentence', (seconds, clock, short) => {
    expect(formatElapsed(seconds)).toBe(clock);
    expect(formatElapsed(seconds, 'clock')).toBe(clock);
    expect(formatElapsed(seconds, 'short')).toBe(short);
  });
});
