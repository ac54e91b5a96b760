import { describe, expect, it } from 'vitest';
import { nsToRfc3339, rfc3339ToNs } from '../../src/tree/time.js';
import { prng } from '../helpers/repo.js';

// The straightforward formatter the fast one replaces: Date for the calendar, bigint for the fraction.
function reference(ns: bigint): string {
  const sec = ns >= 0n ? ns / 1_000_000_000n : -((-ns + 999_999_999n) / 1_000_000_000n);
  const frac = ns - sec * 1_000_000_000n;
  return `${new Date(Number(sec) * 1000).toISOString().slice(0, 19)}.${frac.toString().padStart(9, '0')}Z`;
}

describe('timestamps', () => {
  it('formats like the Date-based reference and parses back, over centuries and leap days', () => {
    const rand = prng(99);
    const cases = [0n, -1n, 951_782_400_000_000_000n, 4_102_444_800_000_000_000n, -2_208_988_800_000_000_001n];
    for (let i = 0; i < 20000; i++)
      cases.push(BigInt(Math.floor((rand() * 2 - 0.5) * 8e9)) * 1_000_000_000n + BigInt(Math.floor(rand() * 1e9)));
    for (const ns of cases) {
      expect(nsToRfc3339(ns)).toBe(reference(ns));
      expect(rfc3339ToNs(nsToRfc3339(ns))).toBe(ns);
    }
  });

  it('parses offsets and short fractions', () => {
    expect(rfc3339ToNs('2026-11-27T10:00:00.5+01:00')).toBe(rfc3339ToNs('2026-11-27T09:00:00.500000000Z'));
    expect(() => rfc3339ToNs('2026-11-27 10:00')).toThrow();
  });
});
