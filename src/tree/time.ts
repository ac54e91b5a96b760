// Timestamps as the format stores them: RFC 3339 in UTC with nine fractional digits (spec §9).
// Pure conversions between nanosecond bigints and strings; no clock reads.

import { FormatError } from '../core/errors.js';

const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

export function nsToRfc3339(ns: bigint): string {
  const sec = ns >= 0n ? ns / 1_000_000_000n : -((-ns + 999_999_999n) / 1_000_000_000n);
  const frac = Number(ns - sec * 1_000_000_000n);
  // Integer civil-date arithmetic (days since 1970-01-01 to year/month/day): this runs three times for
  // every file of every backup, and a Date object per call showed in profiles.
  const s = Number(sec);
  const days = Math.floor(s / 86400);
  let rem = s - days * 86400;
  const hh = Math.floor(rem / 3600);
  rem -= hh * 3600;
  const mi = Math.floor(rem / 60);
  const ss = rem - mi * 60;
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  if (y < 0 || y > 9999) {
    const iso = new Date(s * 1000).toISOString(); // outside four-digit years; rare enough to be slow
    return `${iso.slice(0, 19)}.${String(frac).padStart(9, '0')}Z`;
  }
  return `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}T${pad(hh, 2)}:${pad(mi, 2)}:${pad(ss, 2)}.${pad(frac, 9)}Z`;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Parses RFC 3339 with any offset and up to nine fractional digits into nanoseconds since the epoch. */
export function rfc3339ToNs(s: string): bigint {
  const m = RFC3339_RE.exec(s);
  if (!m) throw new FormatError(`invalid timestamp ${JSON.stringify(s)}`);
  const [, y, mo, d, h, mi, se, frac = '', zone] = m;
  const base = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se));
  if (Number.isNaN(base)) throw new FormatError(`invalid timestamp ${JSON.stringify(s)}`);
  let offsetMin = 0;
  if (zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    offsetMin = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  }
  const ms = BigInt(base) - BigInt(offsetMin) * 60_000n;
  return ms * 1_000_000n + BigInt(frac.padEnd(9, '0'));
}

/** A local-time RFC 3339 string with the machine's UTC offset, as snapshot times are shown and stored. */
export function toLocalRfc3339(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const local = new Date(ms + off * 60_000).toISOString().slice(0, 19);
  const frac = (((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n).toString().padStart(9, '0');
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  const zone =
    off === 0 ? 'Z' : `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return `${local}.${frac}${zone}`;
}
