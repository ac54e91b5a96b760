// The plan's fast timestamp reader must give exactly what the general parser and nodeTimeSeconds give.

import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/core/errors.js';
import { nodeTimeSeconds } from '../../src/restorer/metadata.js';
import { planTime } from '../../src/restorer/plan-time.js';
import { nsToRfc3339, rfc3339ToNs } from '../../src/tree/time.js';
import { prng } from '../helpers/repo.js';

function expectSame(t: string): void {
  const ns = rfc3339ToNs(t);
  const p = planTime(t);
  expect(BigInt(p.s) * 1_000_000_000n + BigInt(p.ns), t).toBe(ns);
  expect(p.ns >= 0 && p.ns < 1e9, t).toBe(true);
  expect(p.seconds, t).toBe(nodeTimeSeconds(t));
}

describe('planTime', () => {
  it('matches rfc3339ToNs and nodeTimeSeconds on stored and other forms', () => {
    const rand = prng(9);
    for (let i = 0; i < 20_000; i++) {
      // Seconds from before 1970 to past 2255 (where the fast path hands over to bigints), any nanoseconds.
      const s = BigInt(Math.floor((rand() - 0.3) * 1.2e10));
      const ns = BigInt(Math.floor(rand() * 1e9));
      expectSame(nsToRfc3339(s * 1_000_000_000n + ns));
    }
    for (const t of [
      '1970-01-01T00:00:00.000000000Z',
      '1969-12-31T23:59:59.999999999Z',
      '2021-06-07T08:09:10.123456789Z',
      '2021-06-07T08:09:10.999999500Z',
      '2021-06-07T08:09:10.999999499Z',
      '2000-02-29T12:00:00.000000500Z',
      '2021-02-31T00:00:00.000000000Z', // carried into March, as Date.UTC does
      '2021-00-10T00:00:00.000000000Z',
      '2021-13-10T00:00:00.000000000Z',
      '0050-01-01T00:00:00.000000000Z', // Date.UTC's two-digit years
      '0100-01-01T00:00:00.000000000Z',
      '9999-12-31T23:59:59.999999999Z',
      '2021-06-07T08:09:10Z',
      '2021-06-07T08:09:10.5+02:00',
      '2021-06-07T08:09:10.123456789-07:30',
    ]) {
      expectSame(t);
    }
  });

  it('rejects what the format does not allow, as the general parser does', () => {
    for (const t of ['yesterday', '2021-06-07 08:09:10.123456789Z', '2021-06-07T08:09:10.12345678xZ', '']) {
      expect(() => planTime(t)).toThrow(FormatError);
    }
  });
});
