import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes, randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js';
import { Blake3Key, blake3, createBlake3, createKeyedBlake3, keyedBlake3 } from '../../src/crypto/blake3.js';

interface Blake3Vectors {
  key: string;
  cases: { input_len: number; hash: string; keyed_hash: string }[];
}

const vectors = JSON.parse(
  readFileSync(new URL('../fixtures/vectors/blake3.json', import.meta.url), 'utf8'),
) as Blake3Vectors;
const vectorKey = Buffer.from(vectors.key, 'ascii');

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function vectorInput(len: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = i % 251;
  return b;
}

/** Feeds `data` to `update` in pieces cut at random points, some of them empty. */
function feedRandomly(data: Uint8Array, update: (piece: Uint8Array) => void): void {
  let pos = 0;
  while (pos < data.length) {
    const n = randomInt(0, Math.min(data.length - pos, 70_000) + 1);
    update(data.subarray(pos, pos + n));
    pos += n;
  }
}

describe('BLAKE3 official vectors', () => {
  it('uses the 32-byte key from the vector file', () => {
    expect(vectorKey.length).toBe(32);
    expect(vectors.cases.length).toBeGreaterThan(30);
  });

  for (const c of vectors.cases) {
    it(`input_len ${c.input_len}`, () => {
      const input = vectorInput(c.input_len);
      const hash = c.hash.slice(0, 64);
      const keyed = c.keyed_hash.slice(0, 64);
      expect(hex(blake3(input))).toBe(hash);
      expect(hex(keyedBlake3(vectorKey, input))).toBe(keyed);
      expect(hex(new Blake3Key(vectorKey).hash(input))).toBe(keyed);
      const s = createBlake3();
      const k = createKeyedBlake3(vectorKey);
      feedRandomly(input, (p) => {
        s.update(p);
        k.update(p);
      });
      expect(hex(s.digest())).toBe(hash);
      expect(hex(k.digest())).toBe(keyed);
    });
  }
});

describe('BLAKE3 against @noble/hashes', () => {
  it('one-shot, keyed and streaming agree on random inputs of random sizes', () => {
    for (let i = 0; i < 40; i++) {
      const size = i < 3 ? [0, 1, 300 * 1024][i] : randomInt(0, 300 * 1024 + 1);
      const data = randomBytes(size);
      const key = randomBytes(32);
      const plain = hex(nobleBlake3(data));
      const keyed = hex(nobleBlake3(data, { key }));
      expect(hex(blake3(data))).toBe(plain);
      expect(hex(keyedBlake3(key, data))).toBe(keyed);
      expect(hex(new Blake3Key(key).hash(data))).toBe(keyed);
      const s = createBlake3();
      const k = createKeyedBlake3(key);
      feedRandomly(data, (p) => {
        s.update(p);
        k.update(p);
      });
      expect(hex(s.digest())).toBe(plain);
      expect(hex(k.digest())).toBe(keyed);
    }
  });

  it('reads subarray views in place, for data and for keys', () => {
    const backing = randomBytes(10_000);
    const data = backing.subarray(1234, 7777);
    const plainView = new Uint8Array(backing.buffer, backing.byteOffset + 1234, 7777 - 1234);
    const keyView = new Uint8Array(backing.buffer, backing.byteOffset + 17, 32);
    const key = Buffer.from(keyView);
    const expectedPlain = hex(nobleBlake3(Buffer.from(data)));
    const expectedKeyed = hex(nobleBlake3(Buffer.from(data), { key }));
    expect(hex(blake3(plainView))).toBe(expectedPlain);
    expect(hex(keyedBlake3(keyView, plainView))).toBe(expectedKeyed);
    expect(hex(createKeyedBlake3(keyView).update(plainView).digest())).toBe(expectedKeyed);
    expect(hex(createBlake3().update(plainView).digest())).toBe(expectedPlain);
  });

  it('keyedBlake3 follows a change of key and of the key buffer contents', () => {
    const data = randomBytes(1000);
    const k1 = randomBytes(32);
    const k2 = randomBytes(32);
    expect(hex(keyedBlake3(k1, data))).toBe(hex(nobleBlake3(data, { key: k1 })));
    expect(hex(keyedBlake3(k2, data))).toBe(hex(nobleBlake3(data, { key: k2 })));
    expect(hex(keyedBlake3(k1, data))).toBe(hex(nobleBlake3(data, { key: k1 })));
    const mutable = Buffer.from(k1);
    keyedBlake3(mutable, data);
    mutable[0] ^= 1;
    expect(hex(keyedBlake3(mutable, data))).toBe(hex(nobleBlake3(data, { key: mutable })));
  });

  it('a Blake3Key reused many times does not leak state between hashes', () => {
    const key = randomBytes(32);
    const k = new Blake3Key(key);
    for (let i = 0; i < 20; i++) {
      const data = randomBytes(randomInt(0, 5000));
      expect(hex(k.hash(data))).toBe(hex(nobleBlake3(data, { key })));
    }
  });

  it('digest does not end a stream', () => {
    const s = createBlake3().update(Buffer.from('ab'));
    expect(hex(s.digest())).toBe(hex(nobleBlake3(Buffer.from('ab'))));
    s.update(Buffer.from('c'));
    expect(hex(s.digest())).toBe(hex(nobleBlake3(Buffer.from('abc'))));
  });

  it('rejects keys that are not 32 bytes instead of letting the binding abort the process', () => {
    for (const len of [0, 16, 31, 33, 64]) {
      expect(() => keyedBlake3(Buffer.alloc(len), Buffer.alloc(1))).toThrow(/32 bytes/);
      expect(() => createKeyedBlake3(Buffer.alloc(len))).toThrow(/32 bytes/);
      expect(() => new Blake3Key(Buffer.alloc(len))).toThrow(/32 bytes/);
    }
  });

  it('rejects non-byte input that the binding would otherwise hash silently', () => {
    expect(() => blake3('abc' as unknown as Uint8Array)).toThrow(/Uint8Array/);
    expect(() => createBlake3().update(5 as unknown as Uint8Array)).toThrow(/Uint8Array/);
  });
});

describe('loading the native binding', () => {
  // The package's index calls process.report.getReport() (3.5-4 ms) in every thread that loads it, to tell
  // glibc from musl. Where musl's loader is absent the glibc binary is loaded directly.
  it.skipIf(process.platform !== 'linux' || existsSync(`/lib/ld-musl-x86_64.so.1`) || process.arch !== 'x64')(
    'a fresh process hashes with the glibc binary without a diagnostic report',
    () => {
      const script = `
        let reports = 0;
        const real = process.report.getReport.bind(process.report);
        process.report.getReport = (...a) => (reports++, real(...a));
        const { blake3 } = await import(${JSON.stringify(new URL('../../dist/crypto/blake3.js', import.meta.url).href)});
        console.log(JSON.stringify({ hash: blake3(Buffer.from('abc')).toString('hex'), reports }));
      `;
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
      const r = JSON.parse(out) as { hash: string; reports: number };
      expect(r.hash).toBe(Buffer.from(nobleBlake3(Buffer.from('abc'))).toString('hex'));
      expect(r.reports).toBe(0);
    },
  );
});
