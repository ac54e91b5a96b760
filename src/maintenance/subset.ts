// Which packs `check --read-data-subset` reads: a deterministic slice n/t, a random percentage, or random packs up to a size.
// Selection only; reading is check-data's job.

import { randomInt } from 'node:crypto';
import { RepoError } from '../core/errors.js';
import { parseSize } from '../core/units.js';

export type DataSubset =
  { kind: 'slice'; n: number; t: number } | { kind: 'percent'; percent: number } | { kind: 'size'; bytes: number };

/** Parses "n/t", "x%" or a size such as "500M". */
export function parseSubset(s: string): DataSubset {
  let m = /^(\d+)\/(\d+)$/.exec(s);
  if (m) {
    const n = Number(m[1]);
    const t = Number(m[2]);
    if (t < 1 || n < 1 || n > t) throw new RepoError('INVALID_ARGUMENT', `invalid subset "${s}": n/t needs 1 ≤ n ≤ t`);
    return { kind: 'slice', n, t };
  }
  m = /^(\d+(?:\.\d+)?)%$/.exec(s);
  if (m) {
    const percent = Number(m[1]);
    if (percent <= 0 || percent > 100)
      throw new RepoError('INVALID_ARGUMENT', `invalid subset "${s}": a percentage must be in (0, 100]`);
    return { kind: 'percent', percent };
  }
  if (/^\s*[\d.]/.test(s)) {
    const bytes = parseSize(s, '--read-data-subset (n/t, a percentage like 10% or a size)');
    if (bytes <= 0) throw new RepoError('INVALID_ARGUMENT', `invalid subset "${s}": the size must be positive`);
    return { kind: 'size', bytes };
  }
  throw new RepoError('INVALID_ARGUMENT', `invalid subset "${s}": use n/t, a percentage like 10% or a size like 500M`);
}

/** Picks packs (name → size). Slices are deterministic: running 1/t … t/t covers every pack exactly once. */
export function selectPacks(packs: Map<string, number>, subset: DataSubset | undefined): string[] {
  const names = [...packs.keys()].sort();
  if (!subset) return names;
  if (subset.kind === 'slice') return names.filter((_, i) => i % subset.t === subset.n - 1);
  const shuffled = [...names];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
  }
  if (subset.kind === 'percent') return shuffled.slice(0, Math.ceil((names.length * subset.percent) / 100)).sort();
  const out: string[] = [];
  let total = 0;
  for (const p of shuffled) {
    const size = packs.get(p)!;
    if (total + size > subset.bytes) continue;
    out.push(p);
    total += size;
  }
  return out.sort();
}
