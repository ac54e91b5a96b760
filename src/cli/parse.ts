// Parsing of command-line argument values (sizes and durations: src/core/units.ts): chunker triples, times, tag lists, repeatable flags.
// Pure functions that only turn strings into values; every failure is a RepoError('INVALID_ARGUMENT') naming the flag.

import { parseElapsed, parseSize } from '../core/units.js';
import { NotFoundError, RepoError } from '../core/errors.js';
import { FASTCDC_ALGORITHM, type ChunkerParams } from '../chunker/chunker.js';

export { parseSize };

/** "MIN/AVG/MAX" with sizes as in parseSize, e.g. "512K/1M/8M". Ranges are checked by the library. */
export function parseChunker(value: string): ChunkerParams {
  const parts = value.split('/');
  if (parts.length !== 3) {
    throw new RepoError(
      'INVALID_ARGUMENT',
      `invalid --chunker ${JSON.stringify(value)}: use MIN/AVG/MAX, e.g. 512K/1M/8M`,
    );
  }
  const [min, avg, max] = parts.map((p) => parseSize(p, '--chunker'));
  return { algorithm: FASTCDC_ALGORITHM, min, avg, max };
}

const LOCAL_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$/;
/** A date alone means its local midnight, as restic's time flags take it. */
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:?\d{2})$/;

/**
 * Accepts "YYYY-MM-DD HH:MM[:SS[.frac]]" in local time and RFC 3339 with fractional seconds and an
 * offset ("2026-11-27T09:00:00.5+01:00", "…Z"). Sub-millisecond digits are dropped (a Date holds ms).
 */
export function parseTime(value: string, flag = '--time'): Date {
  const s = value.trim();
  const bad = () =>
    new RepoError(
      'INVALID_ARGUMENT',
      `invalid ${flag} ${JSON.stringify(value)}: use "YYYY-MM-DD", "YYYY-MM-DD HH:MM:SS" (local time) or RFC 3339`,
    );
  const ms = (frac: string | undefined) => Number((frac ?? '').padEnd(3, '0').slice(0, 3));
  let m = RFC3339_RE.exec(s);
  if (m !== null) {
    const [, y, mo, d, h, mi, se, frac, zone] = m;
    checkFields(+y, +mo, +d, +h, +mi, +se, bad);
    let offsetMin = 0;
    if (zone.toUpperCase() !== 'Z') {
      const digits = zone.slice(1).replace(':', '');
      const oh = Number(digits.slice(0, 2));
      const om = Number(digits.slice(2, 4));
      if (oh > 23 || om > 59) throw bad();
      offsetMin = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
    }
    return new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi, +se, ms(frac)) - offsetMin * 60_000);
  }
  m = LOCAL_RE.exec(s) ?? DATE_RE.exec(s);
  if (m !== null) {
    const [, y, mo, d, h = '0', mi = '0', se = '0', frac] = m;
    checkFields(+y, +mo, +d, +h, +mi, +se, bad);
    const t = new Date(+y, +mo - 1, +d, +h, +mi, +se, ms(frac));
    if (t.getDate() !== +d) throw bad();
    return t;
  }
  throw bad();
}

function checkFields(y: number, mo: number, d: number, h: number, mi: number, se: number, bad: () => Error): void {
  const days = new Date(Date.UTC(y, mo, 0)).getUTCDate(); // days in month mo
  if (mo < 1 || mo > 12 || d < 1 || d > days || h > 23 || mi > 59 || se > 60) throw bad();
}

/** Commander collector for repeatable flags: `--exclude a --exclude b` → ['a', 'b']. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Repeatable, comma-separated tags flattened: `--tag a,b --tag c` → ['a', 'b', 'c']. */
export function flattenTags(values: string[] | undefined): string[] {
  return (values ?? [])
    .flatMap((v) => v.split(','))
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

/** Tag filters with restic's semantics: each flag value is a set that must match completely; flags are alternatives. */
export function tagFilter(values: string[] | undefined): string[][] | undefined {
  const sets = (values ?? [])
    .map((v) =>
      v
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t !== ''),
    )
    .filter((s) => s.length > 0);
  return sets.length > 0 ? sets : undefined;
}

/** A positive integer flag value (e.g. --latest N). */
export function parsePositiveInt(value: string, flag: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new RepoError('INVALID_ARGUMENT', `invalid ${flag} ${JSON.stringify(value)}: expected a positive integer`);
  }
  return Number(value);
}

/** Splits "SNAPSHOT:PATH" at the first colon; a bare "SNAPSHOT" has no path. */
export function splitSnapshotPath(value: string): { ref: string; path?: string } {
  const i = value.indexOf(':');
  if (i < 0) return { ref: value };
  return { ref: value.slice(0, i), path: value.slice(i + 1) };
}

/** restic's --retry-lock: a Go duration such as "30s", "5m" (minutes, as in Go), "1h30m", or plain seconds → ms. */
export function parseWaitDuration(value: string, flag: string): number {
  return parseElapsed(value, flag, 'minutes');
}

/** Resolves a full id or a unique prefix among stored names (cat, repair packs: every command takes short ids). */
export function resolveIdPrefix(names: string[], prefix: string, what: string): string {
  if (!/^[0-9a-f]{1,64}$/.test(prefix))
    throw new RepoError('INVALID_ARGUMENT', `invalid ${what} id ${JSON.stringify(prefix.slice(0, 80))}`);
  const matches = names.filter((n) => n.startsWith(prefix));
  if (matches.length === 0) throw new NotFoundError(`no ${what} with id ${prefix}`);
  if (matches.length > 1)
    throw new RepoError('AMBIGUOUS', `${what} id prefix ${prefix} matches ${matches.length} files`);
  return matches[0];
}
