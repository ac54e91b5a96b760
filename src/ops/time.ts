// Durations ("90s", "1h", "7d", "1h30min", "2w") and daily windows ("02:00-06:00") of the operations config.
// Pure parsing; the clock is always passed in (lengths of time are formatted by core/units.ts formatElapsed).

import { RepoError } from '../core/errors.js';
import { parseElapsed } from '../core/units.js';

/**
 * A length of time of the operations config ("90s", "30min", "1h", "7d", "1h30min", "2w"; a bare number is
 * seconds) → milliseconds, in the grammar of src/core/units.ts. A bare "m" is an error suggesting "min",
 * except where `bareM` says the key is restic's own Go duration (retry-lock), where it means minutes.
 */
export function parseOpsDuration(
  value: string | number,
  what = 'duration',
  bareM: 'minutes' | 'ambiguous' = 'ambiguous',
): number {
  return parseElapsed(value, what, bareM);
}

/** A daily time window in local time: minutes after midnight; `end` < `start` wraps past midnight. */
export interface TimeWindow {
  text: string;
  start: number;
  end: number;
}

/** "HH:MM-HH:MM" (24 h, local time). The end minute is included: "00:00-23:59" is the whole day. */
export function parseWindow(value: string): TimeWindow {
  const m = /^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$/.exec(value);
  const bad = (why: string) => new RepoError('INVALID_ARGUMENT', `invalid window ${JSON.stringify(value)}: ${why}`);
  if (!m) throw bad('use HH:MM-HH:MM, e.g. 02:00-06:00');
  const [sh, sm, eh, em] = m.slice(1).map(Number);
  if (sh > 23 || eh > 23 || sm > 59 || em > 59) throw bad('hours are 00-23 and minutes 00-59');
  const start = sh * 60 + sm;
  const end = eh * 60 + em;
  if (start === end) throw bad('start and end are the same minute');
  return { text: value.trim(), start, end };
}

/** Whether local time `d` lies in the window (the end minute included). */
export function inWindow(w: TimeWindow | undefined, d: Date): boolean {
  if (w === undefined) return true;
  const t = d.getHours() * 60 + d.getMinutes();
  return w.start <= w.end ? t >= w.start && t <= w.end : t >= w.start || t <= w.end;
}

/** The first instant at or after `d` that lies in the window (`d` itself when it does). */
export function nextWindowStart(w: TimeWindow | undefined, d: Date): Date {
  if (w === undefined || inWindow(w, d)) return d;
  const next = new Date(d.getTime());
  next.setSeconds(0, 0);
  next.setHours(Math.floor(w.start / 60), w.start % 60, 0, 0);
  if (next.getTime() <= d.getTime()) next.setDate(next.getDate() + 1);
  return next;
}
