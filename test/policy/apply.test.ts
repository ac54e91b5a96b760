// applyPolicy rule by rule: counts, oldest-kept, within (calendar cutoffs), within-buckets, tags, offsets, ties, safety net.
// Small hand-written cases; expectations follow restic's ApplyPolicy semantics.
import { describe, expect, it } from 'vitest';
import { isRepoError } from '../../src/core/errors.js';
import { applyPolicy, parseDuration, type RetentionPolicy } from '../../src/policy/index.js';

interface Sn {
  id: string;
  time: string;
  tags: string[];
}

/** Snapshots named by their time unless an id is given: "time" or "time#id" or "time@tag1,tag2". */
function sns(...specs: string[]): Sn[] {
  return specs.map((spec, i) => {
    const [timeAndId, tagPart] = spec.split('@');
    const [time, id] = timeAndId.split('#');
    return { id: id ?? `s${String(i).padStart(3, '0')}`, time, tags: tagPart ? tagPart.split(',') : [] };
  });
}

function kept(list: Sn[], p: RetentionPolicy, now?: string) {
  const r = applyPolicy(list, p, now ? { now } : {});
  return {
    keep: r.keep.map((s) => s.time),
    remove: r.remove.map((s) => s.time),
    why: Object.fromEntries(r.keep.map((s, i) => [s.time, r.reasons[i].matches.join('; ')])),
  };
}

const D = parseDuration;

describe('empty policy and empty input', () => {
  it('keeps everything, newest first, with no reasons', () => {
    const list = sns('2024-01-01T00:00:00Z', '2024-01-03T00:00:00Z', '2024-01-02T00:00:00Z');
    const r = applyPolicy(list, {});
    expect(r.keep.map((s) => s.time)).toEqual(['2024-01-03T00:00:00Z', '2024-01-02T00:00:00Z', '2024-01-01T00:00:00Z']);
    expect(r.remove).toEqual([]);
    expect(r.reasons).toEqual([]);
    expect(applyPolicy(list, { daily: 0, within: D('0h') }).reasons).toEqual([]);
  });
  it('returns nothing for no snapshots', () => {
    expect(applyPolicy([], { daily: 3 })).toEqual({ keep: [], remove: [], reasons: [] });
    expect(applyPolicy([], { tags: [['x']] })).toEqual({ keep: [], remove: [], reasons: [] });
  });
  it('rejects invalid policies and timestamps', () => {
    const list = sns('2024-01-01T00:00:00Z');
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return isRepoError(e) ? e.code : 'other';
      }
      return 'none';
    };
    expect(codeOf(() => applyPolicy(list, { daily: -3 }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => applyPolicy(sns('yesterday'), { daily: 1 }))).toBe('FORMAT');
  });
});

describe('count rules', () => {
  const week = sns(
    '2024-01-01T10:00:00Z',
    '2024-01-01T18:00:00Z',
    '2024-01-02T09:00:00Z',
    '2024-01-03T09:00:00Z',
    '2024-01-03T09:30:00Z',
    '2024-01-04T23:59:59Z',
    '2024-01-05T00:00:00Z',
  );

  it('last: every snapshot is its own bucket; no "oldest" when the count runs out', () => {
    const r = kept(week, { last: 3 });
    expect(r.keep).toEqual(['2024-01-05T00:00:00Z', '2024-01-04T23:59:59Z', '2024-01-03T09:30:00Z']);
    expect(Object.values(r.why)).toEqual(['last snapshot', 'last snapshot', 'last snapshot']);
  });

  it('last with more count than snapshots keeps all as plain "last snapshot"', () => {
    const r = kept(week, { last: 10 });
    expect(r.remove).toEqual([]);
    expect(new Set(Object.values(r.why))).toEqual(new Set(['last snapshot']));
  });

  it('last -1 (unlimited) keeps everything and reports counter -1', () => {
    const r = applyPolicy(week, { last: -1 });
    expect(r.remove).toEqual([]);
    expect(r.reasons.every((x) => x.counters?.last === -1)).toBe(true);
  });

  it('hourly: newest per hour', () => {
    const list = sns(
      '2024-01-01T10:05:00Z',
      '2024-01-01T10:55:00Z',
      '2024-01-01T11:00:00Z',
      '2024-01-01T11:59:59Z',
      '2024-01-01T09:59:59Z',
    );
    expect(kept(list, { hourly: 2 }).keep).toEqual(['2024-01-01T11:59:59Z', '2024-01-01T10:55:00Z']);
  });

  it('daily: newest per day, counting only days that have snapshots', () => {
    const r = kept(week, { daily: 3 });
    expect(r.keep).toEqual(['2024-01-05T00:00:00Z', '2024-01-04T23:59:59Z', '2024-01-03T09:30:00Z']);
    expect(r.remove).toHaveLength(4);
  });

  it('keeps the oldest snapshot while a rule still has count left ("oldest daily snapshot")', () => {
    const r = applyPolicy(week, { daily: 10 });
    const oldest = r.reasons[r.reasons.length - 1];
    expect(r.keep.map((s) => s.time)).toEqual([
      '2024-01-05T00:00:00Z',
      '2024-01-04T23:59:59Z',
      '2024-01-03T09:30:00Z',
      '2024-01-02T09:00:00Z',
      '2024-01-01T18:00:00Z',
      '2024-01-01T10:00:00Z',
    ]);
    expect(oldest).toEqual({ snapshotId: 's000', matches: ['oldest daily snapshot'], counters: { daily: 4 } });
    expect(r.remove.map((s) => s.time)).toEqual(['2024-01-03T09:00:00Z']);
  });

  it('the oldest snapshot gets the plain reason when it starts a new bucket anyway', () => {
    const r = applyPolicy(sns('2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z'), { daily: 5 });
    expect(r.reasons.map((x) => x.matches)).toEqual([['daily snapshot'], ['daily snapshot']]);
  });

  it('no oldest-kept when the count is used up exactly at the last bucket', () => {
    // Two days, daily 2: the second day's newest uses the last count; its older sibling goes.
    const r = kept(sns('2024-01-01T01:00:00Z', '2024-01-01T02:00:00Z', '2024-01-02T00:00:00Z'), { daily: 2 });
    expect(r.keep).toEqual(['2024-01-02T00:00:00Z', '2024-01-01T02:00:00Z']);
    expect(r.remove).toEqual(['2024-01-01T01:00:00Z']);
  });

  it('unlimited daily keeps the newest of every day plus the oldest', () => {
    const r = kept(week, { daily: -1 });
    expect(r.remove).toEqual(['2024-01-03T09:00:00Z']);
    expect(r.why['2024-01-01T10:00:00Z']).toBe('oldest daily snapshot');
  });

  it('weekly uses ISO weeks across the year boundary', () => {
    const list = sns('2020-12-31T12:00:00Z', '2021-01-03T12:00:00Z', '2021-01-04T12:00:00Z');
    expect(kept(list, { weekly: 2 }).keep).toEqual(['2021-01-04T12:00:00Z', '2021-01-03T12:00:00Z']);
    const three = kept(list, { weekly: 3 });
    expect(three.remove).toEqual([]);
    expect(three.why['2020-12-31T12:00:00Z']).toBe('oldest weekly snapshot'); // same week 2020-W53
    // 2024-12-30 is already 2025-W01, so it is a different week from 2024-12-29 (2024-W52).
    expect(kept(sns('2024-12-29T12:00:00Z', '2024-12-30T12:00:00Z'), { weekly: 1 }).keep).toEqual([
      '2024-12-30T12:00:00Z',
    ]);
    expect(
      kept(sns('2024-12-23T12:00:00Z', '2024-12-29T12:00:00Z', '2024-12-30T12:00:00Z'), { weekly: 2 }).keep,
    ).toEqual(['2024-12-30T12:00:00Z', '2024-12-29T12:00:00Z']);
  });

  it('monthly and yearly', () => {
    const list = sns(
      '2023-01-15T00:00:00Z',
      '2023-12-31T23:00:00Z',
      '2024-01-31T00:00:00Z',
      '2024-02-29T12:00:00Z',
      '2024-02-01T00:00:00Z',
      '2024-03-01T00:00:00Z',
    );
    expect(kept(list, { monthly: 3 }).keep).toEqual([
      '2024-03-01T00:00:00Z',
      '2024-02-29T12:00:00Z',
      '2024-01-31T00:00:00Z',
    ]);
    const y = kept(list, { yearly: 5 });
    expect(y.keep).toEqual(['2024-03-01T00:00:00Z', '2023-12-31T23:00:00Z', '2023-01-15T00:00:00Z']);
    expect(y.why['2023-01-15T00:00:00Z']).toBe('oldest yearly snapshot');
  });

  it('combined rules list every matching rule, in restic order, with counters after each snapshot', () => {
    const r = applyPolicy(week, { last: 1, daily: 2, weekly: 1, monthly: 1, yearly: 1 });
    expect(r.reasons[0]).toEqual({
      snapshotId: 's006',
      matches: ['last snapshot', 'daily snapshot', 'weekly snapshot', 'monthly snapshot', 'yearly snapshot'],
      counters: { daily: 1 },
    });
    expect(r.reasons[1].matches).toEqual(['daily snapshot']);
    expect(r.keep).toHaveLength(2);
  });

  it('buckets use the local time written in each string, not UTC', () => {
    // Both are 2023-12-31 in UTC, but one is already 2024-01-01 at +02:00.
    const list = sns('2023-12-31T23:30:00+02:00', '2024-01-01T00:30:00+02:00');
    expect(kept(list, { daily: 1 }).keep).toEqual(['2024-01-01T00:30:00+02:00']);
    expect(kept(list, { daily: 2 }).keep).toHaveLength(2);
    expect(kept(list, { yearly: 2 }).why).toEqual({
      '2024-01-01T00:30:00+02:00': 'yearly snapshot',
      '2023-12-31T23:30:00+02:00': 'yearly snapshot',
    });
    // The same instants written in UTC share a day.
    const utc = sns('2023-12-31T21:30:00Z', '2023-12-31T22:30:00Z', '2023-12-30T00:00:00Z');
    expect(kept(utc, { daily: 2 }).keep).toEqual(['2023-12-31T22:30:00Z', '2023-12-30T00:00:00Z']);
  });

  it('orders by instant, whatever the offsets', () => {
    const list = sns('2024-01-01T12:00:00+05:00', '2024-01-01T08:00:00Z', '2024-01-01T03:00:00-03:00');
    expect(kept(list, { last: 1 }).keep).toEqual(['2024-01-01T08:00:00Z']); // 08:00Z > 07:00Z = 06:00Z
  });
});

describe('ties and determinism', () => {
  it('equal times sort by id, so the input order does not matter', () => {
    const a = sns('2024-01-01T00:00:00Z#b', '2024-01-01T00:00:00Z#a', '2024-01-01T00:00:00Z#c');
    for (const list of [a, [...a].reverse(), [a[2], a[0], a[1]]]) {
      const r = applyPolicy(list, { last: 1 });
      expect(r.keep.map((s) => s.id)).toEqual(['a']);
      expect(r.remove.map((s) => s.id)).toEqual(['b', 'c']);
    }
  });
  it('equal instants with different offsets are ties too', () => {
    const list = sns('2024-01-01T02:00:00+02:00#z', '2024-01-01T00:00:00Z#y');
    expect(applyPolicy(list, { last: 1 }).keep.map((s) => s.id)).toEqual(['y']);
  });
  it('does not mutate its input', () => {
    const list = sns('2024-01-01T00:00:00Z', '2024-01-03T00:00:00Z', '2024-01-02T00:00:00Z');
    const copy = JSON.parse(JSON.stringify(list));
    applyPolicy(list, { daily: 1 });
    expect(list).toEqual(copy);
  });
});

describe('within', () => {
  it('is measured from the newest snapshot, not from now, and the cutoff itself is excluded', () => {
    const list = sns(
      '2024-03-02T12:00:00Z',
      '2024-03-02T12:00:00.000000001Z',
      '2024-03-20T00:00:00Z',
      '2024-03-31T12:00:00Z',
    );
    const r = kept(list, { within: D('1m') }); // cutoff 2024-03-02T12:00Z ("Feb 31" normalizes to Mar 2)
    expect(r.keep).toEqual(['2024-03-31T12:00:00Z', '2024-03-20T00:00:00Z', '2024-03-02T12:00:00.000000001Z']);
    expect(r.remove).toEqual(['2024-03-02T12:00:00Z']);
    expect(r.why['2024-03-20T00:00:00Z']).toBe('within 1m');
  });

  it('leap years: one year before 2024-02-29 is 2023-03-01', () => {
    const list = sns('2023-02-28T23:00:00Z', '2023-03-01T00:00:00Z', '2023-03-01T00:00:01Z', '2024-02-29T00:00:00Z');
    expect(kept(list, { within: D('1y') }).remove).toEqual(['2023-03-01T00:00:00Z', '2023-02-28T23:00:00Z']);
  });

  it('hours are subtracted after the calendar part', () => {
    const list = sns('2024-01-01T01:59:59Z', '2024-01-01T02:00:01Z', '2024-01-02T06:00:00Z');
    expect(kept(list, { within: D('1d4h') }).keep).toEqual(['2024-01-02T06:00:00Z', '2024-01-01T02:00:01Z']);
  });

  it("is computed in the newest snapshot's own offset", () => {
    // Newest: 2024-03-31T01:00+02:00 (= 03-30T23:00Z). Minus 1m on its wall clock → "02-31" → 03-02T01:00+02:00 = 03-01T23:00Z.
    const list = sns('2024-03-01T22:59:59Z', '2024-03-01T23:00:01Z', '2024-03-31T01:00:00+02:00');
    expect(kept(list, { within: D('1m') }).keep).toEqual(['2024-03-31T01:00:00+02:00', '2024-03-01T23:00:01Z']);
  });

  it('snapshots in the future are irrelevant without `now`: the newest one is the reference', () => {
    const list = sns('2020-01-01T00:00:00Z', '2099-06-01T00:00:00Z', '2099-05-31T00:00:00Z');
    expect(kept(list, { within: D('2d') }).keep).toEqual(['2099-06-01T00:00:00Z', '2099-05-31T00:00:00Z']);
  });

  it('with `now`, future snapshots are ignored when finding the newest (restic), and are kept', () => {
    const list = sns('2023-12-01T00:00:00Z', '2024-01-09T00:00:00Z', '2024-01-10T00:00:00Z', '2030-01-01T00:00:00Z');
    const r = kept(list, { within: D('2d') }, '2024-01-15T00:00:00Z');
    expect(r.keep).toEqual(['2030-01-01T00:00:00Z', '2024-01-10T00:00:00Z', '2024-01-09T00:00:00Z']);
    // Everything in the future: no reference, nothing is outside the window.
    expect(kept(list, { within: D('2d') }, '2000-01-01T00:00:00Z').remove).toEqual([]);
    // `now` accepts bigint nanoseconds too.
    expect(applyPolicy(list, { within: D('2d') }, { now: 1_705_276_800_000_000_000n }).keep).toHaveLength(3);
  });

  it('a huge duration keeps everything', () => {
    const list = sns('1900-01-01T00:00:00Z', '2024-01-01T00:00:00Z');
    expect(kept(list, { within: D('9999y') }).remove).toEqual([]);
  });
});

describe('within-bucket rules', () => {
  const list = sns(
    '2024-01-01T08:00:00Z',
    '2024-01-01T09:00:00Z',
    '2024-01-05T10:00:00Z',
    '2024-01-05T11:00:00Z',
    '2024-01-09T12:00:00Z',
    '2024-01-10T07:00:00Z',
    '2024-01-10T08:00:00Z',
  );

  it('keep the newest per bucket for buckets within the duration', () => {
    const r = kept(list, { withinDaily: D('5d') }); // cutoff 2024-01-05T08:00Z
    expect(r.keep).toEqual(['2024-01-10T08:00:00Z', '2024-01-09T12:00:00Z', '2024-01-05T11:00:00Z']);
    expect(r.why['2024-01-09T12:00:00Z']).toBe('daily within 5d');
  });

  it('mark the oldest snapshot "oldest … within" when it lies inside the window in an already kept bucket', () => {
    const r = kept(list, { withinDaily: D('1m') });
    expect(r.keep).toEqual([
      '2024-01-10T08:00:00Z',
      '2024-01-09T12:00:00Z',
      '2024-01-05T11:00:00Z',
      '2024-01-01T09:00:00Z',
      '2024-01-01T08:00:00Z',
    ]);
    expect(r.why['2024-01-01T08:00:00Z']).toBe('oldest daily within 1m');
  });

  it('weekly, monthly, yearly and hourly variants use the same buckets as the count rules', () => {
    // 2024-01-01 (Mon) and 2024-01-05 are both 2024-W01: only the oldest is added from that week's rest.
    expect(kept(list, { withinWeekly: D('1m') }).why).toEqual({
      '2024-01-10T08:00:00Z': 'weekly within 1m',
      '2024-01-05T11:00:00Z': 'weekly within 1m',
      '2024-01-01T08:00:00Z': 'oldest weekly within 1m',
    });
    expect(kept(list, { withinMonthly: D('1y') }).why).toEqual({
      '2024-01-10T08:00:00Z': 'monthly within 1y',
      '2024-01-01T08:00:00Z': 'oldest monthly within 1y',
    });
    expect(kept(list, { withinYearly: D('1d') }).keep).toEqual(['2024-01-10T08:00:00Z']);
    // Window: after 2024-01-09T08:00Z.
    expect(kept(list, { withinHourly: D('1d') }).keep).toEqual([
      '2024-01-10T08:00:00Z',
      '2024-01-10T07:00:00Z',
      '2024-01-09T12:00:00Z',
    ]);
    expect(kept(list, { withinHourly: D('20h') }).keep).toEqual(['2024-01-10T08:00:00Z', '2024-01-10T07:00:00Z']);
  });

  it("combine with everything else; reasons in restic's order", () => {
    const tagged = sns('2024-01-01T00:00:00Z@keep', '2024-01-10T00:00:00Z', '2024-01-10T01:00:00Z');
    const r = applyPolicy(tagged, {
      tags: [['keep']],
      within: D('1h'),
      last: 1,
      withinDaily: D('2d'),
      withinHourly: D('2d'),
    });
    expect(r.reasons.map((x) => x.matches)).toEqual([
      ['within 1h', 'last snapshot', 'hourly within 2d', 'daily within 2d'],
      ['hourly within 2d'],
      ['has tags [keep]'],
    ]);
  });
});

describe('keep-tag', () => {
  const list = sns(
    '2024-01-01T00:00:00Z@a,b',
    '2024-01-02T00:00:00Z@a',
    '2024-01-03T00:00:00Z@c',
    '2024-01-04T00:00:00Z',
    '2024-01-05T00:00:00Z@b,a,x',
  );

  it('an entry needs all its tags; entries are alternatives', () => {
    const r = kept(list, { tags: [['a', 'b'], ['c']] });
    expect(r.keep).toEqual(['2024-01-05T00:00:00Z', '2024-01-03T00:00:00Z', '2024-01-01T00:00:00Z']);
    expect(r.why['2024-01-05T00:00:00Z']).toBe('has tags [a, b]');
    expect(r.why['2024-01-03T00:00:00Z']).toBe('has tags [c]');
  });

  it('lists every matching entry', () => {
    expect(kept(list, { tags: [['a'], ['b']] }).why['2024-01-01T00:00:00Z']).toBe('has tags [a]; has tags [b]');
  });

  it("'' matches untagged snapshots only", () => {
    expect(kept(list, { tags: [['']] }).keep).toEqual(['2024-01-04T00:00:00Z']);
  });

  it('a policy may remove every snapshot of a group, as restic computes it (forget refuses that, not the policy)', () => {
    const r = applyPolicy(list, { tags: [['nope']] });
    expect(r.keep).toEqual([]);
    expect(r.remove).toHaveLength(5);
  });
});
