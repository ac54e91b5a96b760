// Long generated snapshot sequences: kept-set size and membership for typical policies, and restic's documented examples.
// Expected sets are derived by hand from the calendar, not from the implementation.
import { describe, expect, it } from 'vitest';
import { applyPolicy, parseDuration } from '../../src/policy/index.js';
import { nsToRfc3339, rfc3339ToNs } from '../../src/tree/time.js';

const HOUR = 3_600_000_000_000n;

/** One snapshot every `stepHours` from `start` up to and including `end`, times written as "YYYY-MM-DDTHH:MM:SSZ". */
function sequence(start: string, end: string, stepHours: number) {
  const out: { id: string; time: string; tags: string[] }[] = [];
  const last = rfc3339ToNs(end);
  for (let t = rfc3339ToNs(start), i = 0; t <= last; t += BigInt(stepHours) * HOUR, i++) {
    out.push({ id: `s${String(i).padStart(6, '0')}`, time: `${nsToRfc3339(t).slice(0, 19)}Z`, tags: [] });
  }
  return out;
}

describe('every 6 hours for two years (2022-01-01 … 2023-12-31T18:00Z)', () => {
  const list = sequence('2022-01-01T00:00:00Z', '2023-12-31T18:00:00Z', 6);

  it('has the expected size', () => {
    expect(list).toHaveLength(730 * 4);
  });

  it('--keep-daily 7 --keep-weekly 4 --keep-monthly 12 --keep-yearly 3', () => {
    const r = applyPolicy(list, { daily: 7, weekly: 4, monthly: 12, yearly: 3 });
    const at18 = (d: string) => `${d}T18:00:00Z`;
    const daily = ['2023-12-31', '2023-12-30', '2023-12-29', '2023-12-28', '2023-12-27', '2023-12-26', '2023-12-25'];
    const weekly = ['2023-12-24', '2023-12-17', '2023-12-10']; // + 2023-12-31 (2023-W52, a Sunday) already daily
    const monthly = [
      '2023-11-30',
      '2023-10-31',
      '2023-09-30',
      '2023-08-31',
      '2023-07-31',
      '2023-06-30',
      '2023-05-31',
      '2023-04-30',
      '2023-03-31',
      '2023-02-28',
      '2023-01-31',
    ];
    const yearly = ['2022-12-31'];
    const expected = [...daily, ...weekly, ...monthly, ...yearly].map(at18);
    expected.push('2022-01-01T00:00:00Z'); // yearly count 1 left → oldest snapshot kept
    expected.sort().reverse();
    expect(r.keep.map((s) => s.time)).toEqual(expected);
    expect(r.keep).toHaveLength(23);
    expect(r.remove).toHaveLength(list.length - 23);
    const why = Object.fromEntries(r.keep.map((s, i) => [s.time, r.reasons[i].matches]));
    expect(why['2023-12-31T18:00:00Z']).toEqual([
      'daily snapshot',
      'weekly snapshot',
      'monthly snapshot',
      'yearly snapshot',
    ]);
    expect(why['2023-12-24T18:00:00Z']).toEqual(['weekly snapshot']);
    expect(why['2022-12-31T18:00:00Z']).toEqual(['yearly snapshot']);
    expect(why['2022-01-01T00:00:00Z']).toEqual(['oldest yearly snapshot']);
    expect(r.reasons[r.reasons.length - 2].counters).toEqual({ yearly: 1 });
    expect(r.reasons[r.reasons.length - 1].counters).toEqual({}); // keeping the oldest used the last count
  });

  it('--keep-last 5 --keep-hourly 10', () => {
    const r = applyPolicy(list, { last: 5, hourly: 10 });
    expect(r.keep).toHaveLength(10); // every snapshot is in its own hour; last 5 ⊂ hourly 10
    expect(r.keep[9].time).toBe('2023-12-29T12:00:00Z');
  });

  it('--keep-within 1m: "2023-11-31T18:00" normalizes to 2023-12-01T18:00, everything after it is kept', () => {
    const r = applyPolicy(list, { within: parseDuration('1m') });
    expect(r.keep[r.keep.length - 1].time).toBe('2023-12-02T00:00:00Z');
    expect(r.remove[0].time).toBe('2023-12-01T18:00:00Z'); // exactly at the cutoff: not "after" it
    expect(r.keep).toHaveLength(30 * 4); // Dec 2 00:00 … Dec 31 18:00
  });

  it('--keep-within-daily 7d --keep-within-weekly 1m --keep-within-monthly 1y --keep-within-yearly 75y', () => {
    const r = applyPolicy(list, {
      withinDaily: parseDuration('7d'),
      withinWeekly: parseDuration('1m'),
      withinMonthly: parseDuration('1y'),
      withinYearly: parseDuration('75y'),
    });
    const times = r.keep.map((s) => s.time);
    // daily: Dec 25..31 (after Dec 24 18:00) = 7; weekly within 1m: W52 W51 W50 W49 W48 (Dec 3) → +4;
    // monthly within 1y (after 2022-12-31T18:00): Dec..Jan 2023 → +11; yearly within 75y: 2023, 2022 (+1) and the oldest (+1).
    expect(times).toContain('2023-12-03T18:00:00Z');
    expect(times).toContain('2023-01-31T18:00:00Z');
    expect(times).not.toContain('2023-11-26T18:00:00Z'); // W47 ends before the 1m window (after 2023-12-01T18:00)
    expect(r.keep).toHaveLength(7 + 4 + 11 + 1 + 1);
    expect(r.reasons[r.reasons.length - 1].matches).toEqual(['oldest yearly within 75y']);
  });

  it('unlimited monthly keeps one per month plus the oldest', () => {
    const r = applyPolicy(list, { monthly: -1 });
    expect(r.keep).toHaveLength(24 + 1);
  });

  it('is fast enough and independent of input order', () => {
    const shuffled = [...list].sort((a, b) =>
      a.id.split('').reverse().join('') < b.id.split('').reverse().join('') ? -1 : 1,
    );
    const a = applyPolicy(list, { daily: 30, weekly: 10 }).keep.map((s) => s.id);
    const b = applyPolicy(shuffled, { daily: 30, weekly: 10 }).keep.map((s) => s.id);
    expect(b).toEqual(a);
  });
});

describe("restic's documented examples (doc/060_forget.rst)", () => {
  it('one backup every Sunday for 12 weeks, --keep-daily 4 keeps the last four', () => {
    const times = [
      '09-01',
      '09-08',
      '09-15',
      '09-22',
      '09-29',
      '10-06',
      '10-13',
      '10-20',
      '10-27',
      '11-03',
      '11-10',
      '11-17',
    ];
    const list = times.map((d, i) => ({ id: `id${i}`, time: `2019-${d}T11:00:00Z`, tags: [] }));
    const r = applyPolicy(list, { daily: 4 });
    expect(r.keep.map((s) => s.time.slice(5, 10))).toEqual(['11-17', '11-10', '11-03', '10-27']);
    expect(r.reasons.every((x) => x.matches.join() === 'daily snapshot')).toBe(true);
    expect(r.remove).toHaveLength(8);
  });

  it('a backup every day for 100 years, --keep-daily 7 --keep-weekly 5 --keep-monthly 12 --keep-yearly 75', () => {
    const list = sequence('1924-01-01T12:00:00Z', '2023-12-31T12:00:00Z', 24);
    const r = applyPolicy(list, { daily: 7, weekly: 5, monthly: 12, yearly: 75 });
    // 7 dailies + 4 more weeklies (the 7 dailies already hold one) + 11 monthlies (December is daily) + 74 yearlies.
    expect(r.keep).toHaveLength(7 + 4 + 11 + 74);
    expect(r.keep[r.keep.length - 1].time).toBe('1949-12-31T12:00:00Z');
  });
});
