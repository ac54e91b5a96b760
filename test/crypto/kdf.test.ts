import { describe, expect, it } from 'vitest';
import {
  CHEAP_TEST_SCRYPT,
  calibrateScrypt,
  lanesForTarget,
  deriveKey,
  scryptMemory,
  validateScryptParams,
  type ScryptParams,
} from '../../src/crypto/kdf.js';
import { randomBytes } from '../../src/crypto/random.js';
import { FormatError, isRepoError } from '../../src/core/errors.js';
import * as api from '../../src/crypto/index.js';

const salt = Buffer.alloc(32, 0x5a);

describe('deriveKey', () => {
  it('is deterministic and 32 bytes', async () => {
    const a = await deriveKey('correct horse', salt, CHEAP_TEST_SCRYPT);
    const b = await deriveKey('correct horse', Buffer.from(salt), CHEAP_TEST_SCRYPT);
    expect(a.length).toBe(32);
    expect(a.equals(b)).toBe(true);
  });

  it('depends on password, salt and every parameter', async () => {
    const base = (await deriveKey('correct horse', salt, CHEAP_TEST_SCRYPT)).toString('hex');
    const others = await Promise.all([
      deriveKey('correct horsf', salt, CHEAP_TEST_SCRYPT),
      deriveKey('correct horse', Buffer.alloc(32, 0x5b), CHEAP_TEST_SCRYPT),
      deriveKey('correct horse', salt, { ...CHEAP_TEST_SCRYPT, N: 2048 }),
      deriveKey('correct horse', salt, { ...CHEAP_TEST_SCRYPT, r: 4 }),
      deriveKey('correct horse', salt, { ...CHEAP_TEST_SCRYPT, p: 2 }),
    ]);
    const hexes = new Set([base, ...others.map((k) => k.toString('hex'))]);
    expect(hexes.size).toBe(6);
  });

  it('matches plain scrypt over the UTF-8 password (RFC 7914 parameters shape)', async () => {
    const { scryptSync } = await import('node:crypto');
    const expected = scryptSync(Buffer.from('pässword', 'utf8'), salt, 32, { N: 1024, r: 8, p: 1 });
    expect((await deriveKey('pässword', salt, CHEAP_TEST_SCRYPT)).equals(expected)).toBe(true);
  });

  it('treats composed and decomposed forms of a password as the same password', async () => {
    const composed = 'caf\u00e9';
    const decomposed = 'cafe\u0301';
    const a = await deriveKey(composed, salt, CHEAP_TEST_SCRYPT);
    const b = await deriveKey(decomposed, salt, CHEAP_TEST_SCRYPT);
    expect(a.equals(b)).toBe(true);
  });

  it('refuses short salts and invalid parameters', async () => {
    await expect(deriveKey('pw', Buffer.alloc(8), CHEAP_TEST_SCRYPT)).rejects.toThrow(/salt/);
    await expect(deriveKey('pw', salt, { N: 1000, r: 8, p: 1 })).rejects.toBeInstanceOf(FormatError);
  });
});

describe('validateScryptParams', () => {
  const good: ScryptParams[] = [
    CHEAP_TEST_SCRYPT,
    { N: 2 ** 14, r: 8, p: 1 },
    { N: 2 ** 20, r: 8, p: 1 }, // exactly 1 GiB
    { N: 2 ** 22, r: 1, p: 1 },
    { N: 2 ** 10, r: 32, p: 16 },
  ];
  const bad: unknown[] = [
    undefined,
    null,
    'N=16384',
    {},
    { N: 2 ** 14, r: 8 },
    { N: 2 ** 9, r: 8, p: 1 },
    { N: 2 ** 23, r: 1, p: 1 },
    { N: 3 * 2 ** 12, r: 8, p: 1 },
    { N: 2 ** 14 + 0.5, r: 8, p: 1 },
    { N: '16384', r: 8, p: 1 },
    { N: Infinity, r: 8, p: 1 },
    { N: NaN, r: 8, p: 1 },
    { N: -16384, r: 8, p: 1 },
    { N: 2 ** 14, r: 0, p: 1 },
    { N: 2 ** 14, r: 33, p: 1 },
    { N: 2 ** 14, r: 1.5, p: 1 },
    { N: 2 ** 14, r: 8, p: 0 },
    { N: 2 ** 14, r: 8, p: 17 },
    { N: 2 ** 21, r: 8, p: 1 }, // 2 GiB
    { N: 2 ** 20, r: 8, p: 2 }, // 2 GiB through p
  ];

  it.each(good)('accepts %o', (params) => {
    expect(() => validateScryptParams(params)).not.toThrow();
    expect(scryptMemory(params)).toBeLessThanOrEqual(2 ** 30);
  });

  it.each(bad.map((b) => [b]))('rejects %o with a FormatError', (params) => {
    let caught: unknown;
    try {
      validateScryptParams(params);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FormatError);
    expect(isRepoError(caught, 'FORMAT')).toBe(true);
  });
});

describe('calibrateScrypt', () => {
  it('returns valid r=8 parameters with N within 2^14..2^15 (at most 32 MiB)', async () => {
    const params = await calibrateScrypt();
    expect(() => validateScryptParams(params)).not.toThrow();
    expect(params.r).toBe(8);
    expect(params.N).toBeGreaterThanOrEqual(2 ** 14);
    expect(params.N).toBeLessThanOrEqual(2 ** 15);
    expect(scryptMemory({ ...params, p: 1 })).toBeLessThanOrEqual(32 * 1024 * 1024);
  });

  it('clamps to the ends of the range, adding parallel passes instead of memory', async () => {
    expect(await calibrateScrypt(0)).toEqual({ N: 2 ** 14, r: 8, p: 1 });
    expect(await calibrateScrypt(1e9)).toEqual({ N: 2 ** 15, r: 8, p: 16 });
  });

  it('counts a derivation as a fixed part plus the same time per lane (lanesForTarget)', () => {
    // Measured on a VM with slow page faults (N = 2^15, r = 8): one lane 150 ms, two 206 ms, four 320 ms.
    // Scaling the one-lane time (the old rule) gave p = 4, a 320 ms derivation against a 500 ms target.
    const p = lanesForTarget(150, 206, 500);
    expect(p).toBe(8);
    expect(94 + p * 56).toBeGreaterThanOrEqual(500);
    expect(94 + (p - 1) * 56).toBeLessThan(500);
    // Without a fixed part it is plain division; the result stays within 1..16.
    expect(lanesForTarget(100, 200, 500)).toBe(5);
    expect(lanesForTarget(100, 200, 0)).toBe(1);
    expect(lanesForTarget(10, 11, 1e9)).toBe(16);
    // Noise that makes two lanes look no slower than one: every lane counted at the one-lane time.
    expect(lanesForTarget(150, 140, 500)).toBe(4);
    expect(lanesForTarget(150, 150, 500)).toBe(4);
  });

  it('rejects a nonsensical target', async () => {
    await expect(calibrateScrypt(-1)).rejects.toThrow();
    await expect(calibrateScrypt(NaN)).rejects.toThrow();
  });
});

describe('randomBytes and the index', () => {
  it('returns the requested number of distinct random bytes', () => {
    expect(randomBytes(0).length).toBe(0);
    const a = randomBytes(32);
    expect(a.length).toBe(32);
    expect(a.equals(randomBytes(32))).toBe(false);
    expect(() => randomBytes(-1)).toThrow();
    expect(() => randomBytes(1.5)).toThrow();
  });

  it('re-exports the public pieces and not the test-only helper', () => {
    for (const name of [
      'XaesKey',
      'seal',
      'open',
      'xaesEncrypt',
      'xaesDecrypt',
      'SEAL_OVERHEAD',
      'blake3',
      'keyedBlake3',
      'Blake3Key',
      'createBlake3',
      'createKeyedBlake3',
      'deriveKey',
      'calibrateScrypt',
      'validateScryptParams',
      'CHEAP_TEST_SCRYPT',
      'randomBytes',
    ]) {
      expect(api).toHaveProperty(name);
    }
    expect(api.SEAL_OVERHEAD).toBe(40);
    expect(api).not.toHaveProperty('xaesIntermediates');
  });
});
