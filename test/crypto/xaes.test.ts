import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { shake128 } from '@noble/hashes/sha3.js';
import { gcm } from '@noble/ciphers/aes.js';
import {
  XaesKey,
  open,
  seal,
  SEAL_OVERHEAD,
  xaesDecrypt,
  xaesEncrypt,
  xaesIntermediates,
} from '../../src/crypto/xaes.js';
import { IntegrityError, isRepoError } from '../../src/core/errors.js';

interface XaesCase {
  key: string;
  nonce_ascii: string;
  L: string;
  K1: string;
  M1: string;
  M2: string;
  derived_key: string;
  derived_nonce: string;
  plaintext_ascii: string;
  aad_ascii: string;
  ciphertext: string;
}
interface XaesVectors {
  _comment: string;
  cases: XaesCase[];
  accumulated: { iterations: number; shake128_32: string }[];
}

const vectors = JSON.parse(
  readFileSync(new URL('../fixtures/vectors/xaes-256-gcm.json', import.meta.url), 'utf8'),
) as XaesVectors;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');

// One million iterations take about 40 s; run them with XAES_FULL_VECTORS=1.
const FULL = process.env.XAES_FULL_VECTORS === '1';
const QUICK_LIMIT = 100_000;

function expectIntegrityError(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(IntegrityError);
  expect(isRepoError(caught, 'INTEGRITY')).toBe(true);
}

/** Reads one SHAKE-128 output stream in arbitrary-sized pieces, refilling from the XOF in large blocks. */
class ShakeReader {
  readonly #xof = shake128.create({});
  readonly #buf = new Uint8Array(64 * 1024);
  #pos = this.#buf.length;

  read(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (this.#pos === this.#buf.length) {
        this.#xof.xofInto(this.#buf);
        this.#pos = 0;
      }
      const take = Math.min(n - filled, this.#buf.length - this.#pos);
      out.set(this.#buf.subarray(this.#pos, this.#pos + take), filled);
      filled += take;
      this.#pos += take;
    }
    return out;
  }
}

describe('XAES-256-GCM C2SP vectors', () => {
  it('has the cases this suite expects', () => {
    expect(vectors.cases.length).toBeGreaterThanOrEqual(2);
    expect(vectors.accumulated.some((a) => a.iterations === 10_000)).toBe(true);
  });

  for (const [i, c] of vectors.cases.entries()) {
    describe(`case ${i} (aad ${JSON.stringify(c.aad_ascii)})`, () => {
      const key = Buffer.from(c.key, 'hex');
      const nonce = ascii(c.nonce_ascii);
      const plaintext = ascii(c.plaintext_ascii);
      const aad = ascii(c.aad_ascii);

      it('derives L, K1, M1, M2, the key and the nonce', () => {
        const v = xaesIntermediates(key, nonce);
        expect(hex(v.L)).toBe(c.L);
        expect(hex(v.K1)).toBe(c.K1);
        expect(hex(v.M1)).toBe(c.M1);
        expect(hex(v.M2)).toBe(c.M2);
        expect(hex(v.derivedKey)).toBe(c.derived_key);
        expect(hex(v.derivedNonce)).toBe(c.derived_nonce);
      });

      it('encrypts to the expected ciphertext (function and cached-key forms)', () => {
        expect(hex(xaesEncrypt(key, nonce, plaintext, aad))).toBe(c.ciphertext);
        const k = new XaesKey(key);
        expect(hex(k.encrypt(nonce, plaintext, aad))).toBe(c.ciphertext);
        // A second use of the same XaesKey must not depend on state left by the first.
        expect(hex(k.encrypt(nonce, plaintext, aad))).toBe(c.ciphertext);
      });

      it('decrypts the expected ciphertext', () => {
        const ct = Buffer.from(c.ciphertext, 'hex');
        expect(xaesDecrypt(key, nonce, ct, aad).toString('latin1')).toBe(c.plaintext_ascii);
        expect(new XaesKey(key).decrypt(nonce, ct, aad).toString('latin1')).toBe(c.plaintext_ascii);
      });

      it('matches @noble/ciphers AES-GCM under the derived key and nonce', () => {
        const v = xaesIntermediates(key, nonce);
        expect(hex(gcm(v.derivedKey, v.derivedNonce, aad).encrypt(plaintext))).toBe(c.ciphertext);
      });
    });
  }

  for (const acc of vectors.accumulated) {
    const slow = acc.iterations > QUICK_LIMIT;
    it.skipIf(slow && !FULL)(
      `accumulated ${acc.iterations} iterations`,
      () => {
        const rng = new ShakeReader();
        const out = shake128.create({});
        for (let i = 0; i < acc.iterations; i++) {
          const key = rng.read(32);
          const nonce = rng.read(24);
          const plaintext = rng.read(rng.read(1)[0]);
          const aad = rng.read(rng.read(1)[0]);
          const k = new XaesKey(key);
          const ct = k.encrypt(nonce, plaintext, aad);
          out.update(ct);
          const back = k.decrypt(nonce, ct, aad);
          if (!back.equals(plaintext)) throw new Error(`round trip failed at iteration ${i}`);
        }
        expect(hex(out.xof(32))).toBe(acc.shake128_32);
      },
      slow ? 600_000 : 60_000,
    );
  }
});

describe('XAES-256-GCM against @noble/ciphers', () => {
  it('equals AES-GCM under the derived key/nonce for random inputs', () => {
    const sizes = [0, 1, 15, 16, 17, 255, 4096, 65535, 65536, 65537, 200_000];
    for (let i = 0; i < 40; i++) {
      const key = randomBytes(32);
      const nonce = randomBytes(24);
      const plaintext = randomBytes(i < sizes.length ? sizes[i] : randomBytes(2).readUInt16LE() * 3);
      const aad = randomBytes(randomBytes(1)[0]);
      const v = xaesIntermediates(key, nonce);
      const expected = gcm(v.derivedKey, v.derivedNonce, aad).encrypt(plaintext);
      const ct = new XaesKey(key).encrypt(nonce, plaintext, aad);
      expect(hex(ct)).toBe(hex(expected));
      expect(xaesDecrypt(key, nonce, ct, aad).equals(plaintext)).toBe(true);
    }
  });

  it('seal output is nonce || AES-GCM(derived key, derived nonce) and opens with the noble implementation', () => {
    const key = randomBytes(32);
    const plaintext = randomBytes(3 * 64 * 1024 + 5); // crosses the internal encryption slice size
    const aad = Buffer.from('blob');
    const sealed = new XaesKey(key).seal(plaintext, aad);
    expect(sealed.length).toBe(plaintext.length + SEAL_OVERHEAD);
    const nonce = sealed.subarray(0, 24);
    const v = xaesIntermediates(key, nonce);
    const pt = gcm(v.derivedKey, v.derivedNonce, aad).decrypt(sealed.subarray(24));
    expect(Buffer.from(pt).equals(plaintext)).toBe(true);
  });

  it('accepts subarray views for every input', () => {
    const backing = randomBytes(32 + 24 + 100 + 10 + 7);
    const key = backing.subarray(3, 35);
    const nonce = new Uint8Array(backing.buffer, backing.byteOffset + 35, 24);
    const plaintext = new Uint8Array(backing.buffer, backing.byteOffset + 59, 100);
    const aad = backing.subarray(159, 169);
    const ct = xaesEncrypt(key, nonce, plaintext, aad);
    const v = xaesIntermediates(Buffer.from(key), Buffer.from(nonce));
    expect(hex(ct)).toBe(hex(gcm(v.derivedKey, v.derivedNonce, Buffer.from(aad)).encrypt(Buffer.from(plaintext))));
    expect(hex(xaesDecrypt(key, nonce, ct, aad))).toBe(hex(plaintext));
  });
});

describe('seal / open', () => {
  const key = randomBytes(32);
  const aad = Buffer.from('data/ab/ab12');

  it('round-trips through both the class and the function forms', () => {
    for (const size of [0, 1, 16, 1000, 1 << 20]) {
      const plaintext = randomBytes(size);
      const k = new XaesKey(key);
      const sealed = k.seal(plaintext, aad);
      expect(sealed.length).toBe(size + SEAL_OVERHEAD);
      expect(k.open(sealed, aad).equals(plaintext)).toBe(true);
      expect(open(key, sealed, aad).equals(plaintext)).toBe(true);
      expect(open(key, seal(key, plaintext, aad), aad).equals(plaintext)).toBe(true);
    }
  });

  it('uses a fresh nonce every time', () => {
    const k = new XaesKey(key);
    const nonces = new Set<string>();
    for (let i = 0; i < 1000; i++) nonces.add(hex(k.seal(Buffer.from('same'), aad).subarray(0, 24)));
    expect(nonces.size).toBe(1000);
  });

  it('rejects every single-bit flip in any byte', () => {
    const k = new XaesKey(key);
    const sealed = k.seal(Buffer.from('tamper-evident payload'), aad);
    for (let i = 0; i < sealed.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const bad = Buffer.from(sealed);
        bad[i] ^= bit;
        expectIntegrityError(() => k.open(bad, aad));
      }
    }
  });

  it('rejects a wrong or missing aad', () => {
    const k = new XaesKey(key);
    const sealed = k.seal(Buffer.from('payload'), aad);
    expectIntegrityError(() => k.open(sealed, Buffer.from('data/ab/ab13')));
    expectIntegrityError(() => k.open(sealed, new Uint8Array(0)));
    const noAad = k.seal(Buffer.from('payload'), new Uint8Array(0));
    expect(k.open(noAad, new Uint8Array(0)).toString()).toBe('payload');
    expectIntegrityError(() => k.open(noAad, aad));
  });

  it('rejects a wrong key', () => {
    const sealed = seal(key, Buffer.from('payload'), aad);
    expectIntegrityError(() => open(randomBytes(32), sealed, aad));
  });

  it('rejects every truncation and extension', () => {
    const k = new XaesKey(key);
    const sealed = k.seal(randomBytes(50), aad);
    for (let len = 0; len < sealed.length; len++) {
      expectIntegrityError(() => k.open(sealed.subarray(0, len), aad));
    }
    expectIntegrityError(() => k.open(Buffer.concat([sealed, Buffer.from([0])]), aad));
  });

  it('rejects a ciphertext shorter than the tag in xaesDecrypt', () => {
    expectIntegrityError(() => xaesDecrypt(key, randomBytes(24), randomBytes(15)));
  });

  it('rejects keys and nonces of the wrong length without touching the cipher', () => {
    expect(() => new XaesKey(randomBytes(16))).toThrow(/32 bytes/);
    expect(() => xaesEncrypt(key, randomBytes(12), Buffer.alloc(1))).toThrow(/24 bytes/);
    expect(() => xaesDecrypt(key, randomBytes(25), Buffer.alloc(16))).toThrow(/24 bytes/);
  });
});
