// Applies a retention policy to one group of snapshots with restic's `forget` semantics (current ApplyPolicy).
// A pure function: it must never read the clock, touch a repository, or remove every snapshot of a non-empty group.

import { isoWeek, subtractCalendar, type WallTime, wallTime, type ZoneOffset } from './calendar.js';
import { type Duration, formatDuration, isZeroDuration } from './duration.js';
import { COUNT_RULES, formatTagList, isEmptyPolicy, type RetentionPolicy, validatePolicy } from './policy.js';

export interface KeepReason {
  snapshotId: string;
  /** restic's reason strings, in restic's order: tags, within, count rules, within-bucket rules. */
  matches: string[];
  /** Count rules' remaining counts after this snapshot (-1 = unlimited); zero counts are left out, as restic's JSON does. */
  counters?: Record<string, number>;
}

export interface PolicyResult<T> {
  keep: T[]; // newest first
  remove: T[]; // newest first
  reasons: KeepReason[]; // parallel to keep
}

export interface ApplyOptions {
  /**
   * The current time. When given, snapshots dated after it are ignored when finding the newest snapshot
   * that `within*` rules measure from, as restic does. When absent, the newest snapshot counts, whatever its time.
   */
  now?: string | bigint;
  /**
   * The time zone within-durations are counted in (restic: the machine's, TZ). A newest snapshot written in
   * this zone's offset is moved by calendar days in its wall clock, so daylight-saving changes count as restic
   * counts them. Absent: the snapshot's fixed offset. The CLI and the profile runner pass machineZone.
   */
  zone?: ZoneOffset;
}

type Bucker = (w: WallTime, nr: number) => number;
const always: Bucker = (_w, nr) => nr;
const ymdh: Bucker = (w) => w.year * 1_000_000 + w.month * 10_000 + w.day * 100 + w.hour;
const ymd: Bucker = (w) => w.year * 10_000 + w.month * 100 + w.day;
const yw: Bucker = (w) => {
  const { year, week } = isoWeek(w);
  return year * 100 + week;
};
const ym: Bucker = (w) => w.year * 100 + w.month;
const y: Bucker = (w) => w.year;
const BUCKERS: Bucker[] = [always, ymdh, ymd, yw, ym, y];
const COUNT_REASONS = [
  'last snapshot',
  'hourly snapshot',
  'daily snapshot',
  'weekly snapshot',
  'monthly snapshot',
  'yearly snapshot',
];
const WITHIN_REASONS = ['hourly within', 'daily within', 'weekly within', 'monthly within', 'yearly within'];

interface Entry<T> {
  sn: T;
  index: number;
  wall: WallTime;
}

/** Newest first; equal times by id, then by input position, so the result never depends on listing order. */
export function sortNewestFirst<T extends { id: string; time: string }>(snapshots: T[]): T[] {
  return toEntries(snapshots).map((e) => e.sn);
}

function toEntries<T extends { id: string; time: string }>(snapshots: T[]): Entry<T>[] {
  const entries = snapshots.map((sn, index) => ({ sn, index, wall: wallTime(sn.time) }));
  entries.sort((a, b) => {
    if (a.wall.ns !== b.wall.ns) return a.wall.ns > b.wall.ns ? -1 : 1;
    if (a.sn.id !== b.sn.id) return a.sn.id < b.sn.id ? -1 : 1;
    return a.index - b.index;
  });
  return entries;
}

/** restic's Snapshot.HasTags: all tags present; a '' tag matches a snapshot without tags. */
function hasTags(snTags: string[], l: string[]): boolean {
  for (const tag of l) {
    if (tag === '' && snTags.length === 0) return true;
    if (!snTags.includes(tag)) return false;
  }
  return true;
}

/** Cutoff instant for a within-duration: newest minus d; null newest (all in the future) means no cutoff. */
function cutoff(latest: WallTime | null, d: Duration, zone: ZoneOffset | undefined): bigint | null {
  return latest === null ? null : subtractCalendar(latest, d, zone);
}

export function applyPolicy<T extends { id: string; time: string; tags: string[] }>(
  snapshots: T[],
  policy: RetentionPolicy,
  options: ApplyOptions = {},
): PolicyResult<T> {
  validatePolicy(policy);
  const list = toEntries(snapshots);
  if (isEmptyPolicy(policy)) return { keep: list.map((e) => e.sn), remove: [], reasons: [] };
  if (list.length === 0) return { keep: [], remove: [], reasons: [] };

  const nowNs =
    options.now === undefined ? undefined : typeof options.now === 'bigint' ? options.now : wallTime(options.now).ns;
  let latest: WallTime | null = null;
  for (const e of list) {
    if (nowNs !== undefined && e.wall.ns >= nowNs) continue; // restic: the newest must not be in the future
    if (latest === null || e.wall.ns > latest.ns) latest = e.wall;
  }

  const buckets = COUNT_RULES.map((k, i) => ({
    count: policy[k] ?? 0,
    bucker: BUCKERS[i],
    last: -1,
    reason: COUNT_REASONS[i],
  }));
  const withinDurations = [
    policy.withinHourly,
    policy.withinDaily,
    policy.withinWeekly,
    policy.withinMonthly,
    policy.withinYearly,
  ];
  const bucketsWithin = withinDurations.flatMap((d, i) =>
    d && !isZeroDuration(d)
      ? [
          {
            within: d,
            cut: cutoff(latest, d, options.zone),
            bucker: BUCKERS[i + 1],
            last: -1,
            reason: WITHIN_REASONS[i],
          },
        ]
      : [],
  );
  const within =
    policy.within && !isZeroDuration(policy.within)
      ? { d: policy.within, cut: cutoff(latest, policy.within, options.zone) }
      : null;

  const result: PolicyResult<T> = { keep: [], remove: [], reasons: [] };
  const counters = (): Record<string, number> => {
    const c: Record<string, number> = {};
    buckets.forEach((b, i) => {
      if (b.count !== 0) c[COUNT_RULES[i]] = b.count;
    });
    return c;
  };

  list.forEach((cur, nr) => {
    const matches: string[] = [];
    const isOldest = nr === list.length - 1;

    for (const l of policy.tags ?? []) {
      if (hasTags(cur.sn.tags ?? [], l)) matches.push(`has tags ${formatTagList(l)}`);
    }

    if (within && (within.cut === null || cur.wall.ns > within.cut)) matches.push(`within ${formatDuration(within.d)}`);

    for (const b of buckets) {
      if (b.count > 0 || b.count === -1) {
        const val = b.bucker(cur.wall, nr);
        // restic also keeps the oldest snapshot while the rule has count left, to maximise the history kept.
        if (val !== b.last || isOldest) {
          matches.push(val === b.last ? `oldest ${b.reason}` : b.reason);
          b.last = val;
          if (b.count > 0) b.count--;
        }
      }
    }

    for (const b of bucketsWithin) {
      if (b.cut === null || cur.wall.ns > b.cut) {
        const val = b.bucker(cur.wall, nr);
        if (val !== b.last || isOldest) {
          matches.push(`${val === b.last ? `oldest ${b.reason}` : b.reason} ${formatDuration(b.within)}`);
          b.last = val;
        }
      }
    }

    if (matches.length > 0) {
      result.keep.push(cur.sn);
      result.reasons.push({ snapshotId: cur.sn.id, matches, counters: counters() });
    } else {
      result.remove.push(cur.sn);
    }
  });

  return result;
}
