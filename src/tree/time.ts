// Timestamps as the format stores them: RFC 3339 in UTC with nine fractional digits (spec §9).
// Pure conversions between nanosecond bigints and strings; no clock reads.

import { FormatError } from '../core/errors.js';

const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

export function nsToRfc3339(ns: bigint): string {
  const sec = ns >= 0n ? ns / 1_000_000_000n : -((-ns + 999_999_999n) / 1_000_000_000n);
  const frac = ns - sec * 1_000_000_000n;
  const iso = new Date(Number(sec) * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  return `${iso.slice(0, 19)}.${frac.toString().padStart(9, '0')}Z`;
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
  const zone = off === 0 ? 'Z' : `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return `${local}.${frac}${zone}`;
}
