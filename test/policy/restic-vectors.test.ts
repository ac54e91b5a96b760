// restic's own ApplyPolicy test vectors (internal/data/snapshot_policy_test.go and its golden files
// testdata/policy_keep_snapshots_N), transcribed: same snapshot list, same policies, same kept set, reasons and counters.
import { describe, expect, it } from 'vitest';
import { applyPolicy, parseDuration, type RetentionPolicy } from '../../src/policy/index.js';

// [time (UTC, as restic's parseTimeUTC gives it), tags, paths] in restic's input order.
const RAW: [string, string[]?, string[]?][] = [
  ['2014-09-01 10:20:30'],
  ['2014-09-02 10:20:30'],
  ['2014-09-05 10:20:30'],
  ['2014-09-06 10:20:30'],
  ['2014-09-08 10:20:30'],
  ['2014-09-09 10:20:30'],
  ['2014-09-10 10:20:30'],
  ['2014-09-11 10:20:30'],
  ['2014-09-20 10:20:30'],
  ['2014-09-22 10:20:30'],
  ['2014-08-08 10:20:30'],
  ['2014-08-10 10:20:30'],
  ['2014-08-12 10:20:30'],
  ['2014-08-13 10:20:30'],
  ['2014-08-13 10:20:30.1'],
  ['2014-08-15 10:20:30'],
  ['2014-08-18 10:20:30'],
  ['2014-08-20 10:20:30'],
  ['2014-08-21 10:20:30'],
  ['2014-08-22 10:20:30'],
  ['2014-10-01 10:20:30', ['foo']],
  ['2014-10-02 10:20:30', ['foo']],
  ['2014-10-05 10:20:30', ['foo']],
  ['2014-10-06 10:20:30', ['foo']],
  ['2014-10-08 10:20:30', ['foo']],
  ['2014-10-09 10:20:30', ['foo']],
  ['2014-10-10 10:20:30', ['foo']],
  ['2014-10-11 10:20:30', ['foo']],
  ['2014-10-20 10:20:30', ['foo']],
  ['2014-10-22 10:20:30', ['foo']],
  ['2014-11-08 10:20:30', ['foo']],
  ['2014-11-10 10:20:30', ['foo']],
  ['2014-11-12 10:20:30', ['foo']],
  ['2014-11-13 10:20:30', ['foo']],
  ['2014-11-13 10:20:30.1', ['bar']],
  ['2014-11-15 10:20:30', ['foo', 'bar']],
  ['2014-11-18 10:20:30'],
  ['2014-11-20 10:20:30'],
  ['2014-11-21 10:20:30'],
  ['2014-11-22 10:20:30'],
  ['2015-09-01 10:20:30'],
  ['2015-09-02 10:20:30'],
  ['2015-09-05 10:20:30'],
  ['2015-09-06 10:20:30'],
  ['2015-09-08 10:20:30'],
  ['2015-09-09 10:20:30'],
  ['2015-09-10 10:20:30'],
  ['2015-09-11 10:20:30'],
  ['2015-09-20 10:20:30'],
  ['2015-09-22 10:20:30'],
  ['2015-08-08 10:20:30'],
  ['2015-08-10 10:20:30'],
  ['2015-08-12 10:20:30'],
  ['2015-08-13 10:20:30'],
  ['2015-08-13 10:20:30.1'],
  ['2015-08-15 10:20:30'],
  ['2015-08-18 10:20:30'],
  ['2015-08-20 10:20:30'],
  ['2015-08-21 10:20:30'],
  ['2015-08-22 10:20:30'],
  ['2015-10-01 10:20:30'],
  ['2015-10-02 10:20:30'],
  ['2015-10-05 10:20:30'],
  ['2015-10-06 10:20:30'],
  ['2015-10-08 10:20:30'],
  ['2015-10-09 10:20:30'],
  ['2015-10-10 10:20:30'],
  ['2015-10-11 10:20:30'],
  ['2015-10-20 10:20:30'],
  ['2015-10-22 10:20:30'],
  ['2015-10-22 10:20:30'],
  ['2015-10-22 10:20:30', ['foo', 'bar']],
  ['2015-10-22 10:20:30', ['foo', 'bar']],
  ['2015-10-22 10:20:30', ['foo', 'bar'], ['path1', 'path2']],
  ['2015-11-08 10:20:30'],
  ['2015-11-10 10:20:30'],
  ['2015-11-12 10:20:30'],
  ['2015-11-13 10:20:30'],
  ['2015-11-13 10:20:30.1'],
  ['2015-11-15 10:20:30'],
  ['2015-11-18 10:20:30'],
  ['2015-11-20 10:20:30'],
  ['2015-11-21 10:20:30'],
  ['2015-11-22 10:20:30'],
  ['2016-01-01 01:02:03'],
  ['2016-01-01 01:03:03'],
  ['2016-01-01 07:08:03'],
  ['2016-01-03 07:02:03'],
  ['2016-01-04 10:23:03'],
  ['2016-01-04 11:23:03'],
  ['2016-01-04 12:23:03'],
  ['2016-01-04 12:24:03'],
  ['2016-01-04 12:28:03'],
  ['2016-01-04 12:30:03'],
  ['2016-01-04 16:23:03'],
  ['2016-01-05 09:02:03'],
  ['2016-01-06 08:02:03'],
  ['2016-01-07 10:02:03'],
  ['2016-01-08 20:02:03'],
  ['2016-01-09 21:02:03'],
  ['2016-01-12 21:02:03'],
  ['2016-01-12 21:08:03'],
  ['2016-01-18 12:02:03'],
];

// Ids follow input order, so equal times sort as restic's stable sort leaves them.
const SNAPSHOTS = RAW.map(([t, tags, paths], i) => ({
  id: `sn${String(i).padStart(3, '0')}`,
  time: `${t.replace(' ', 'T')}Z`,
  tags: tags ?? [],
  paths: paths ?? [],
}));

/** "time | match; match | counter=n ..." → comparable object. */
function parse(line: string) {
  const [time, matches, counters = ''] = line.split('|').map((s) => s.trim());
  const c: Record<string, number> = {};
  for (const kv of counters.split(/\s+/).filter(Boolean)) {
    const [k, v] = kv.split('=');
    c[k] = Number(v);
  }
  return { time: `${time.replace(' ', 'T')}Z`, matches: matches.split(';').map((s) => s.trim()), counters: c };
}

const D = parseDuration;
const CASES: { golden: number; policy: RetentionPolicy; expect: string[] }[] = [
  {
    golden: 5,
    policy: { hourly: 20 },
    expect: [
      '2016-01-18 12:02:03 | hourly snapshot | hourly=19',
      '2016-01-12 21:08:03 | hourly snapshot | hourly=18',
      '2016-01-09 21:02:03 | hourly snapshot | hourly=17',
      '2016-01-08 20:02:03 | hourly snapshot | hourly=16',
      '2016-01-07 10:02:03 | hourly snapshot | hourly=15',
      '2016-01-06 08:02:03 | hourly snapshot | hourly=14',
      '2016-01-05 09:02:03 | hourly snapshot | hourly=13',
      '2016-01-04 16:23:03 | hourly snapshot | hourly=12',
      '2016-01-04 12:30:03 | hourly snapshot | hourly=11',
      '2016-01-04 11:23:03 | hourly snapshot | hourly=10',
      '2016-01-04 10:23:03 | hourly snapshot | hourly=9',
      '2016-01-03 07:02:03 | hourly snapshot | hourly=8',
      '2016-01-01 07:08:03 | hourly snapshot | hourly=7',
      '2016-01-01 01:03:03 | hourly snapshot | hourly=6',
      '2015-11-22 10:20:30 | hourly snapshot | hourly=5',
      '2015-11-21 10:20:30 | hourly snapshot | hourly=4',
      '2015-11-20 10:20:30 | hourly snapshot | hourly=3',
      '2015-11-18 10:20:30 | hourly snapshot | hourly=2',
      '2015-11-15 10:20:30 | hourly snapshot | hourly=1',
      '2015-11-13 10:20:30.1 | hourly snapshot |',
    ],
  },
  {
    golden: 7,
    policy: { daily: 10 },
    expect: [
      '2016-01-18 12:02:03 | daily snapshot | daily=9',
      '2016-01-12 21:08:03 | daily snapshot | daily=8',
      '2016-01-09 21:02:03 | daily snapshot | daily=7',
      '2016-01-08 20:02:03 | daily snapshot | daily=6',
      '2016-01-07 10:02:03 | daily snapshot | daily=5',
      '2016-01-06 08:02:03 | daily snapshot | daily=4',
      '2016-01-05 09:02:03 | daily snapshot | daily=3',
      '2016-01-04 16:23:03 | daily snapshot | daily=2',
      '2016-01-03 07:02:03 | daily snapshot | daily=1',
      '2016-01-01 07:08:03 | daily snapshot |',
    ],
  },
  {
    golden: 14,
    policy: { monthly: 6 },
    expect: [
      '2016-01-18 12:02:03 | monthly snapshot | monthly=5',
      '2015-11-22 10:20:30 | monthly snapshot | monthly=4',
      '2015-10-22 10:20:30 | monthly snapshot | monthly=3',
      '2015-09-22 10:20:30 | monthly snapshot | monthly=2',
      '2015-08-22 10:20:30 | monthly snapshot | monthly=1',
      '2014-11-22 10:20:30 | monthly snapshot |',
    ],
  },
  {
    golden: 15,
    policy: { daily: 2, weekly: 2, monthly: 6 },
    expect: [
      '2016-01-18 12:02:03 | daily snapshot; weekly snapshot; monthly snapshot | daily=1 weekly=1 monthly=5',
      '2016-01-12 21:08:03 | daily snapshot; weekly snapshot | monthly=5',
      '2015-11-22 10:20:30 | monthly snapshot | monthly=4',
      '2015-10-22 10:20:30 | monthly snapshot | monthly=3',
      '2015-09-22 10:20:30 | monthly snapshot | monthly=2',
      '2015-08-22 10:20:30 | monthly snapshot | monthly=1',
      '2014-11-22 10:20:30 | monthly snapshot |',
    ],
  },
  {
    golden: 16,
    policy: { yearly: 10 },
    expect: [
      '2016-01-18 12:02:03 | yearly snapshot | yearly=9',
      '2015-11-22 10:20:30 | yearly snapshot | yearly=8',
      '2014-11-22 10:20:30 | yearly snapshot | yearly=7',
      '2014-08-08 10:20:30 | oldest yearly snapshot | yearly=6',
    ],
  },
  {
    // The stored golden file predates the "oldest" rule; its last line is what restic's current code and doc add.
    golden: 17,
    policy: { daily: 7, weekly: 2, monthly: 3, yearly: 10 },
    expect: [
      '2016-01-18 12:02:03 | daily snapshot; weekly snapshot; monthly snapshot; yearly snapshot | daily=6 weekly=1 monthly=2 yearly=9',
      '2016-01-12 21:08:03 | daily snapshot; weekly snapshot | daily=5 monthly=2 yearly=9',
      '2016-01-09 21:02:03 | daily snapshot | daily=4 monthly=2 yearly=9',
      '2016-01-08 20:02:03 | daily snapshot | daily=3 monthly=2 yearly=9',
      '2016-01-07 10:02:03 | daily snapshot | daily=2 monthly=2 yearly=9',
      '2016-01-06 08:02:03 | daily snapshot | daily=1 monthly=2 yearly=9',
      '2016-01-05 09:02:03 | daily snapshot | monthly=2 yearly=9',
      '2015-11-22 10:20:30 | monthly snapshot; yearly snapshot | monthly=1 yearly=8',
      '2015-10-22 10:20:30 | monthly snapshot | yearly=8',
      '2014-11-22 10:20:30 | yearly snapshot | yearly=7',
      '2014-08-08 10:20:30 | oldest yearly snapshot | yearly=6',
    ],
  },
  {
    golden: 19,
    policy: { tags: [['foo', 'bar']] },
    expect: [
      '2015-10-22 10:20:30 | has tags [foo, bar]',
      '2015-10-22 10:20:30 | has tags [foo, bar]',
      '2015-10-22 10:20:30 | has tags [foo, bar]',
      '2014-11-15 10:20:30 | has tags [foo, bar]',
    ],
  },
  {
    golden: 20,
    policy: { tags: [['foo'], ['bar']] },
    expect: [
      '2015-10-22 10:20:30 | has tags [foo]; has tags [bar]',
      '2015-10-22 10:20:30 | has tags [foo]; has tags [bar]',
      '2015-10-22 10:20:30 | has tags [foo]; has tags [bar]',
      '2014-11-15 10:20:30 | has tags [foo]; has tags [bar]',
      '2014-11-13 10:20:30.1 | has tags [bar]',
      '2014-11-13 10:20:30 | has tags [foo]',
      '2014-11-12 10:20:30 | has tags [foo]',
      '2014-11-10 10:20:30 | has tags [foo]',
      '2014-11-08 10:20:30 | has tags [foo]',
      '2014-10-22 10:20:30 | has tags [foo]',
      '2014-10-20 10:20:30 | has tags [foo]',
      '2014-10-11 10:20:30 | has tags [foo]',
      '2014-10-10 10:20:30 | has tags [foo]',
      '2014-10-09 10:20:30 | has tags [foo]',
      '2014-10-08 10:20:30 | has tags [foo]',
      '2014-10-06 10:20:30 | has tags [foo]',
      '2014-10-05 10:20:30 | has tags [foo]',
      '2014-10-02 10:20:30 | has tags [foo]',
      '2014-10-01 10:20:30 | has tags [foo]',
    ],
  },
  {
    golden: 25,
    policy: { within: D('1m14d') },
    expect: [
      '2016-01-18 12:02:03',
      '2016-01-12 21:08:03',
      '2016-01-12 21:02:03',
      '2016-01-09 21:02:03',
      '2016-01-08 20:02:03',
      '2016-01-07 10:02:03',
      '2016-01-06 08:02:03',
      '2016-01-05 09:02:03',
      '2016-01-04 16:23:03',
      '2016-01-04 12:30:03',
      '2016-01-04 12:28:03',
      '2016-01-04 12:24:03',
      '2016-01-04 12:23:03',
      '2016-01-04 11:23:03',
      '2016-01-04 10:23:03',
      '2016-01-03 07:02:03',
      '2016-01-01 07:08:03',
      '2016-01-01 01:03:03',
      '2016-01-01 01:02:03',
    ].map((t) => `${t} | within 1m14d`),
  },
  {
    golden: 32,
    policy: { withinWeekly: D('1y2m3d3h') },
    expect: [
      '2016-01-18 12:02:03',
      '2016-01-12 21:08:03',
      '2016-01-09 21:02:03',
      '2016-01-03 07:02:03',
      '2015-11-22 10:20:30',
      '2015-11-15 10:20:30',
      '2015-11-08 10:20:30',
      '2015-10-22 10:20:30',
      '2015-10-11 10:20:30',
      '2015-10-02 10:20:30',
      '2015-09-22 10:20:30',
      '2015-09-20 10:20:30',
      '2015-09-11 10:20:30',
      '2015-09-06 10:20:30',
      '2015-08-22 10:20:30',
      '2015-08-15 10:20:30',
      '2015-08-08 10:20:30',
      '2014-11-22 10:20:30',
      '2014-11-15 10:20:30',
    ].map((t) => `${t} | weekly within 1y2m3d3h`),
  },
  {
    golden: 33,
    policy: { withinMonthly: D('1y2m3d3h') },
    expect: [
      '2016-01-18 12:02:03',
      '2015-11-22 10:20:30',
      '2015-10-22 10:20:30',
      '2015-09-22 10:20:30',
      '2015-08-22 10:20:30',
      '2014-11-22 10:20:30',
    ].map((t) => `${t} | monthly within 1y2m3d3h`),
  },
  {
    golden: 39,
    policy: { daily: 3, weekly: 2, monthly: -1, yearly: -1 },
    expect: [
      '2016-01-18 12:02:03 | daily snapshot; weekly snapshot; monthly snapshot; yearly snapshot | daily=2 weekly=1 monthly=-1 yearly=-1',
      '2016-01-12 21:08:03 | daily snapshot; weekly snapshot | daily=1 monthly=-1 yearly=-1',
      '2016-01-09 21:02:03 | daily snapshot | monthly=-1 yearly=-1',
      '2015-11-22 10:20:30 | monthly snapshot; yearly snapshot | monthly=-1 yearly=-1',
      '2015-10-22 10:20:30 | monthly snapshot | monthly=-1 yearly=-1',
      '2015-09-22 10:20:30 | monthly snapshot | monthly=-1 yearly=-1',
      '2015-08-22 10:20:30 | monthly snapshot | monthly=-1 yearly=-1',
      '2014-11-22 10:20:30 | monthly snapshot; yearly snapshot | monthly=-1 yearly=-1',
      '2014-10-22 10:20:30 | monthly snapshot | monthly=-1 yearly=-1',
      '2014-09-22 10:20:30 | monthly snapshot | monthly=-1 yearly=-1',
      '2014-08-22 10:20:30 | monthly snapshot | monthly=-1 yearly=-1',
      '2014-08-08 10:20:30 | oldest monthly snapshot; oldest yearly snapshot | monthly=-1 yearly=-1',
    ],
  },
];

describe('restic ApplyPolicy golden vectors', () => {
  it.each(CASES)('policy_keep_snapshots_$golden', ({ policy, expect: lines }) => {
    const shuffled = [...SNAPSHOTS].reverse(); // input order must not matter
    const res = applyPolicy(shuffled, policy);
    const got = res.keep.map((sn, i) => ({
      time: sn.time,
      matches: res.reasons[i].matches,
      counters: res.reasons[i].counters,
    }));
    expect(got).toEqual(lines.map(parse));
    expect(res.reasons.map((r) => r.snapshotId)).toEqual(res.keep.map((s) => s.id));
    expect(res.keep.length + res.remove.length).toBe(SNAPSHOTS.length);
  });

  it('keeps duplicate times in a stable order (golden 20: the three tagged 2015-10-22 snapshots in input order)', () => {
    const res = applyPolicy(SNAPSHOTS, { tags: [['foo'], ['bar']] });
    expect(res.keep.slice(0, 3).map((s) => [s.tags, s.paths])).toEqual([
      [['foo', 'bar'], []],
      [['foo', 'bar'], []],
      [
        ['foo', 'bar'],
        ['path1', 'path2'],
      ],
    ]);
  });

  it("matches the policySum bound of restic's test for every counted case", () => {
    for (const { policy } of CASES) {
      const counts = [policy.last, policy.hourly, policy.daily, policy.weekly, policy.monthly, policy.yearly].map(
        (n) => n ?? 0,
      );
      if (counts.includes(-1) || policy.tags || policy.within || policy.withinWeekly || policy.withinMonthly) continue;
      const sum = counts.reduce((a, b) => a + b, 0);
      expect(applyPolicy(SNAPSHOTS, policy).keep.length).toBeLessThanOrEqual(sum);
    }
  });
});
