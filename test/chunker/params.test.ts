// validateChunkerParams and createChunker: the accepted ranges of fastcdc-wasm and the error kinds.
// Never lets a bad value reach WASM (where it would trap with "unreachable").

import { describe, expect, it } from 'vitest';
import { FormatError, RepoError } from '../../src/core/errors.js';
import {
  CHUNKER_LIMITS,
  DEFAULT_CHUNKER_PARAMS,
  createChunker,
  fastcdcBoundaries,
  validateChunkerParams,
} from '../../src/chunker/index.js';

const ok = { algorithm: 'fastcdc-ronomon', min: 262144, avg: 1048576, max: 4194304 } as const;

describe('validateChunkerParams', () => {
  it('accepts good params and returns a clean copy', () => {
    expect(validateChunkerParams(ok)).toEqual(ok);
    expect(validateChunkerParams({ ...ok, future: 1 }, 'config')).toEqual(ok); // unknown members ignored
    expect(validateChunkerParams(DEFAULT_CHUNKER_PARAMS)).toEqual(DEFAULT_CHUNKER_PARAMS);
    // extremes of the ranges, non-powers of two
    validateChunkerParams({ algorithm: 'fastcdc-ronomon', min: 64, avg: 256, max: 1024 });
    validateChunkerParams({ algorithm: 'fastcdc-ronomon', min: 100_000, avg: 300_000, max: 1_000_001 });
    validateChunkerParams({ algorithm: 'fastcdc-ronomon', min: 1 << 20, avg: 32 << 20, max: CHUNKER_LIMITS.maxMax });
  });

  const bad: [string, unknown][] = [
    ['not an object', 'fastcdc'],
    ['null', null],
    ['array', [1, 2, 3]],
    ['unknown algorithm', { ...ok, algorithm: 'rabin' }],
    ['missing algorithm', { min: 1, avg: 2, max: 3 }],
    ['missing max', { algorithm: 'fastcdc-ronomon', min: 262144, avg: 1048576 }],
    ['string size', { ...ok, min: '262144' }],
    ['fraction', { ...ok, avg: 1048576.5 }],
    ['NaN', { ...ok, max: Number.NaN }],
    ['min < 64', { ...ok, min: 63 }],
    ['avg < 256', { algorithm: 'fastcdc-ronomon', min: 64, avg: 255, max: 1024 }],
    ['max < 1024', { algorithm: 'fastcdc-ronomon', min: 64, avg: 256, max: 1023 }],
    ['max above limit', { ...ok, max: CHUNKER_LIMITS.maxMax + 1 }],
    ['min == avg', { ...ok, min: 1048576 }],
    ['avg == max', { ...ok, avg: 4194304 }],
    ['min > max', { ...ok, min: 8388608 }],
    ['negative', { ...ok, min: -1 }],
  ];

  for (const [name, p] of bad) {
    it(`rejects ${name}`, () => {
      let arg: unknown;
      try {
        validateChunkerParams(p);
      } catch (e) {
        arg = e;
      }
      expect(arg).toBeInstanceOf(RepoError);
      expect((arg as RepoError).code).toBe('INVALID_ARGUMENT');
      let cfg: unknown;
      try {
        validateChunkerParams(p, 'config');
      } catch (e) {
        cfg = e;
      }
      expect(cfg).toBeInstanceOf(FormatError);
      expect((cfg as RepoError).code).toBe('FORMAT');
    });
  }

  it('createChunker and fastcdcBoundaries validate too', () => {
    expect(() => createChunker({ ...ok, min: 63 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => fastcdcBoundaries(Buffer.alloc(10), { ...ok, max: 1 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    const c = createChunker(ok);
    expect(c.params).toEqual(ok);
    expect(Object.isFrozen(c.params)).toBe(true);
  });

  it('every accepted extreme actually runs in WASM', () => {
    const data = Buffer.alloc(5000, 1);
    for (const p of [
      { algorithm: 'fastcdc-ronomon' as const, min: 64, avg: 256, max: 1024 },
      { algorithm: 'fastcdc-ronomon' as const, min: 64, avg: 65, max: 66 + 1024 },
      {
        algorithm: 'fastcdc-ronomon' as const,
        min: CHUNKER_LIMITS.maxMax - 2,
        avg: CHUNKER_LIMITS.maxMax - 1,
        max: CHUNKER_LIMITS.maxMax,
      },
    ]) {
      if (p.avg < CHUNKER_LIMITS.avgMin) {
        expect(() => fastcdcBoundaries(data, p)).toThrow(RepoError);
        continue;
      }
      expect(Array.from(fastcdcBoundaries(data, p)).at(-1)).toBe(5000);
    }
  });
});
