// Option parsing for retention: durations, keep counts, group-by, policy emptiness and description.
// Invalid input must fail with INVALID_ARGUMENT, never be silently reinterpreted.
import { describe, expect, it } from 'vitest';
import { isRepoError } from '../../src/core/errors.js';
import {
  describePolicy,
  formatDuration,
  isEmptyPolicy,
  parseDuration,
  parseGroupBy,
  parseKeepCount,
  validatePolicy,
} from '../../src/policy/index.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isRepoError(err) ? err.code : 'not a RepoError';
  }
  return undefined;
}

describe('parseDuration', () => {
  it.each([
    ['1y2m3d4h', { years: 1, months: 2, days: 3, hours: 4 }],
    ['7d', { years: 0, months: 0, days: 7, hours: 0 }],
    ['2m12h', { years: 0, months: 2, days: 0, hours: 12 }],
    ['1y', { years: 1, months: 0, days: 0, hours: 0 }],
    ['36h', { years: 0, months: 0, days: 0, hours: 36 }],
    ['4h1y', { years: 1, months: 0, days: 0, hours: 4 }], // restic accepts any order
    ['  3d ', { years: 0, months: 0, days: 3, hours: 0 }],
    ['0d', { years: 0, months: 0, days: 0, hours: 0 }],
    ['9999y', { years: 9999, months: 0, days: 0, hours: 0 }],
    // the one duration grammar (src/core/units.ts) also takes weeks, "mo" and spaces between parts
    ['1w', { years: 0, months: 0, days: 7, hours: 0 }],
    ['1y 2m', { years: 1, months: 2, days: 0, hours: 0 }],
    ['3mo', { years: 0, months: 3, days: 0, hours: 0 }],
  ])('%s', (s, want) => {
    expect(parseDuration(s)).toEqual(want);
  });

  it.each([
    '',
    '   ',
    '1',
    'd',
    '1M',
    '1Y',
    '-1d',
    '1d-1h',
    '1d1d',
    '1.5d',
    '1min',
    '2m1mo',
    '1d!',
    '99999999999999999999d',
  ])('rejects %j', (s) => {
    expect(code(() => parseDuration(s))).toBe('INVALID_ARGUMENT');
  });

  it('formats like restic (zero parts left out)', () => {
    expect(formatDuration(parseDuration('1y2m3d4h'))).toBe('1y2m3d4h');
    expect(formatDuration(parseDuration('4h1y'))).toBe('1y4h');
    expect(formatDuration(parseDuration('1m14d'))).toBe('1m14d');
  });
});

describe('parseKeepCount', () => {
  it.each([
    ['0', 0],
    ['7', 7],
    [' 12 ', 12],
    ['unlimited', -1],
    ['-1', -1],
  ])('%j → %d', (s, n) => {
    expect(parseKeepCount(s)).toBe(n);
  });
  it.each(['', '-2', 'abc', '1.5', '1e3', '+3', 'Unlimited', '99999999999999999999'])('rejects %j', (s) => {
    expect(code(() => parseKeepCount(s))).toBe('INVALID_ARGUMENT');
  });
});

describe('parseGroupBy', () => {
  it.each([
    ['host,paths', ['host', 'paths']],
    ['', []],
    ['tags', ['tags']],
    ['paths,host', ['host', 'paths']],
    ['host,paths,tags', ['host', 'paths', 'tags']],
    ['hosts,path,tag', ['host', 'paths', 'tags']],
    ['host,,host', ['host']],
  ])('%j', (s, want) => {
    expect(parseGroupBy(s)).toEqual(want);
  });
  it('rejects unknown fields', () => {
    expect(code(() => parseGroupBy('host,user'))).toBe('INVALID_ARGUMENT');
  });
});

describe('isEmptyPolicy / validatePolicy / describePolicy', () => {
  it.each([
    [{}, true],
    [{ last: 0, daily: 0 }, true],
    [{ tags: [] }, true],
    [{ within: parseDuration('0d'), withinDaily: { years: 0, months: 0, days: 0, hours: 0 } }, true],
    [{ last: 1 }, false],
    [{ yearly: -1 }, false],
    [{ tags: [['']] }, false],
    [{ within: parseDuration('1h') }, false],
    [{ withinYearly: parseDuration('1y') }, false],
  ])('%j → %s', (p, empty) => {
    expect(isEmptyPolicy(p)).toBe(empty);
  });

  it.each([
    { daily: -2 },
    { last: 1.5 },
    { weekly: Number.NaN },
    { within: { years: 0, months: -1, days: 0, hours: 0 } },
  ])('rejects %j', (p) => {
    expect(code(() => validatePolicy(p))).toBe('INVALID_ARGUMENT');
  });

  it('describes a policy like restic\'s "Applying Policy:" line', () => {
    expect(describePolicy({})).toBe('remove');
    expect(describePolicy({ daily: 7, weekly: 4, monthly: 12, yearly: 3 })).toBe(
      'keep 7 daily, 4 weekly, 12 monthly, 3 yearly snapshots',
    );
    expect(
      describePolicy({
        last: -1,
        withinDaily: parseDuration('7d'),
        tags: [['a', 'b'], ['c']],
        within: parseDuration('1y2m'),
      }),
    ).toBe(
      'keep all latest snapshots, daily snapshots within 7d and all snapshots with tags [[a, b] [c]] and all snapshots within 1y2m of the newest',
    );
  });
});
