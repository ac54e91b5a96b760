// Formats snapshot times with a Go reference-time layout ("2006-01-02T15:04:05Z07:00"), as restic's
// `mount --time-template` takes it, so users can reuse their templates. Pure; no clock reads.

import { RepoError } from '../core/errors.js';
import { rfc3339ToNs } from '../tree/time.js';

export const DEFAULT_TIME_TEMPLATE = '2006-01-02T15:04:05Z07:00';

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

interface Fields {
  year: number;
  month: number; // 1-12
  day: number;
  weekday: number;
  yearDay: number;
  hour: number;
  minute: number;
  second: number;
  nanos: number;
  offsetMin: number;
}

const pad = (n: number, w: number, c = '0') => String(n).padStart(w, c);

function zone(offsetMin: number, z: boolean, colon: boolean, seconds: boolean, short: boolean): string {
  if (z && offsetMin === 0) return 'Z';
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  const hh = pad(Math.floor(abs / 60), 2);
  const mm = pad(abs % 60, 2);
  if (short) return `${sign}${hh}`;
  return colon ? `${sign}${hh}:${mm}${seconds ? ':00' : ''}` : `${sign}${hh}${mm}${seconds ? '00' : ''}`;
}

/** Layout tokens, longest first where one is a prefix of another (Go's time.Format recognises the same). */
const TOKENS: [string, (f: Fields) => string][] = [
  ['January', (f) => MONTHS[f.month - 1]],
  ['Jan', (f) => MONTHS[f.month - 1].slice(0, 3)],
  ['Monday', (f) => DAYS[f.weekday]],
  ['Mon', (f) => DAYS[f.weekday].slice(0, 3)],
  ['MST', (f) => zone(f.offsetMin, true, false, false, false)],
  ['2006', (f) => pad(f.year, 4)],
  ['Z07:00:00', (f) => zone(f.offsetMin, true, true, true, false)],
  ['-07:00:00', (f) => zone(f.offsetMin, false, true, true, false)],
  ['Z07:00', (f) => zone(f.offsetMin, true, true, false, false)],
  ['-07:00', (f) => zone(f.offsetMin, false, true, false, false)],
  ['Z0700', (f) => zone(f.offsetMin, true, false, false, false)],
  ['-0700', (f) => zone(f.offsetMin, false, false, false, false)],
  ['Z07', (f) => zone(f.offsetMin, true, false, false, true)],
  ['-07', (f) => zone(f.offsetMin, false, false, false, true)],
  ['002', (f) => pad(f.yearDay, 3)],
  ['01', (f) => pad(f.month, 2)],
  ['02', (f) => pad(f.day, 2)],
  ['03', (f) => pad(f.hour % 12 === 0 ? 12 : f.hour % 12, 2)],
  ['04', (f) => pad(f.minute, 2)],
  ['05', (f) => pad(f.second, 2)],
  ['06', (f) => pad(f.year % 100, 2)],
  ['15', (f) => pad(f.hour, 2)],
  ['_2', (f) => pad(f.day, 2, ' ')],
  ['PM', (f) => (f.hour >= 12 ? 'PM' : 'AM')],
  ['pm', (f) => (f.hour >= 12 ? 'pm' : 'am')],
  ['1', (f) => String(f.month)],
  ['2', (f) => String(f.day)],
  ['3', (f) => String(f.hour % 12 === 0 ? 12 : f.hour % 12)],
  ['4', (f) => String(f.minute)],
  ['5', (f) => String(f.second)],
];

const FRACTION_RE = /^[.,](0+|9+)/;

/** The fields of an RFC 3339 time in the offset it was written with (a snapshot keeps its local offset). */
function fieldsOf(rfc3339: string): Fields {
  const ns = rfc3339ToNs(rfc3339);
  const m = /(Z|[+-]\d{2}:\d{2})$/.exec(rfc3339);
  let offsetMin = 0;
  if (m !== null && m[1] !== 'Z')
    offsetMin = (m[1][0] === '-' ? -1 : 1) * (Number(m[1].slice(1, 3)) * 60 + Number(m[1].slice(4, 6)));
  const msUtc = Number(ns / 1_000_000n);
  const d = new Date(msUtc + offsetMin * 60_000);
  const start = Date.UTC(d.getUTCFullYear(), 0, 1);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    weekday: d.getUTCDay(),
    yearDay: Math.floor((d.getTime() - start) / 86_400_000) + 1,
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    nanos: Number(((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n),
    offsetMin,
  };
}

/** `time` (RFC 3339) written with the Go layout `template`. */
export function formatTime(template: string, time: string): string {
  const f = fieldsOf(time);
  let out = '';
  let i = 0;
  outer: while (i < template.length) {
    const rest = template.slice(i);
    const frac = FRACTION_RE.exec(rest);
    if (frac !== null) {
      const digits = frac[1].length;
      let s = pad(f.nanos, 9).slice(0, Math.min(9, digits));
      if (frac[1][0] === '9') s = s.replace(/0+$/, '');
      out += s === '' ? '' : rest[0] + s;
      i += frac[0].length;
      continue;
    }
    for (const [token, render] of TOKENS) {
      if (rest.startsWith(token)) {
        out += render(f);
        i += token.length;
        continue outer;
      }
    }
    out += template[i++];
  }
  return out;
}

/** Refuses a template that names no part of the time or yields unusable directory names. */
export function checkTimeTemplate(template: string): void {
  const sample = formatTime(template, '2021-11-23T19:48:37.123Z'); // unlike the reference time in every field
  if (template === '' || sample === template)
    throw new RepoError('INVALID_ARGUMENT', `--time-template ${JSON.stringify(template)} names no part of the time`);
  if (sample.split('/').some((c) => c === '' || c === '.' || c === '..'))
    throw new RepoError(
      'INVALID_ARGUMENT',
      `--time-template ${JSON.stringify(template)} gives empty, "." or ".." path components`,
    );
}
