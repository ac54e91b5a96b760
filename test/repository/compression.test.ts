import { describe, expect, it } from 'vitest';
import { decompress as zstdDecompress } from 'zstd-napi';
import binding from 'zstd-napi/binding.js';
import { Compression } from '../../src/repository/blob.js';
import {
  EARLY_SKIP,
  compressBlob,
  compressionLevel,
  decompressBlob,
  looksIncompressible,
  validateCompression,
} from '../../src/repository/compression.js';
import { prng, randomBuffer } from '../helpers/repo.js';

const KiB = 1024;
const ZSTD_MAGIC = 0xfd2fb528; // 28 B5 2F FD, little-endian

/** Deterministic English-like text: compresses about 3-4x with zstd. */
function text(seed: number, n: number): Buffer {
  const rand = prng(seed);
  const words =
    'the of and a to in is you that it he was for on are as with his they at be this from have or by one had not but what all were when we there can an your which their said if do will each about how up out them then she many some so these would other into has more her two like him see time could no make than first been its who now people my made over did down only way find use may water long little very after words called just where most know'.split(
      ' ',
    );
  const parts: string[] = [];
  let len = 0;
  while (len < n) {
    const w = words[Math.floor(rand() * words.length)] + (rand() < 0.1 ? '.\n' : ' ');
    parts.push(w);
    len += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, n);
}

/** Random bytes written as hex digits: no repeats for zstd, but entropy coding halves it. */
function hex(seed: number, n: number): Buffer {
  return Buffer.from(randomBuffer(prng(seed), Math.ceil(n / 2)).toString('hex')).subarray(0, n);
}

function roundTrip(plain: Buffer, level: number): { data: Buffer; compression: Compression } {
  const stored = compressBlob(plain, level);
  const back = decompressBlob(stored.data, stored.compression, plain.length);
  expect(back.equals(plain)).toBe(true);
  return stored;
}

const SETTINGS = ['off', 'auto', 'max', ...Array.from({ length: 22 }, (_, i) => String(i + 1))];

describe('compression settings', () => {
  it('keeps the meaning of every setting', () => {
    expect(compressionLevel('off')).toBe(0);
    expect(compressionLevel('auto')).toBe(3);
    expect(compressionLevel('max')).toBe(19);
    for (let n = 1; n <= 22; n++) expect(compressionLevel(String(n))).toBe(n);
    for (const bad of ['0', '23', 'fast', '-1', '3.5', ''])
      expect(() => validateCompression(bad)).toThrow(/invalid compression/);
  });
});

describe('compressBlob / decompressBlob', () => {
  const compressible = text(1, 300 * KiB);
  const random = randomBuffer(prng(2), 200 * KiB);
  const smallRandom = randomBuffer(prng(3), 1000);
  const smallText = text(4, 1000);

  it.each(SETTINGS)('round-trips random and compressible data at setting %s', (setting) => {
    const level = compressionLevel(setting);
    const c = roundTrip(compressible, level);
    const st = roundTrip(smallText, level);
    if (level === 0) {
      expect(c.compression).toBe(Compression.None);
      expect(st.compression).toBe(Compression.None);
    } else {
      expect(c.compression).toBe(Compression.Zstd);
      expect(c.data.length).toBeLessThan(compressible.length / 2);
      expect(st.compression).toBe(Compression.Zstd);
    }
    for (const r of [random, smallRandom]) {
      const s = roundTrip(r, level);
      expect(s.compression).toBe(Compression.None);
      expect(s.data).toBe(r); // raw: the plaintext itself
    }
    expect(roundTrip(Buffer.alloc(0), level).compression).toBe(Compression.None);
  });

  it('stores an incompressible blob raw, whatever its size', () => {
    for (const n of [1, 100, 16 * KiB, EARLY_SKIP.minBlob - 1, EARLY_SKIP.minBlob, 512 * KiB, 2048 * KiB]) {
      const plain = randomBuffer(prng(n), n);
      const s = compressBlob(plain, 3);
      expect(s.compression).toBe(Compression.None);
      expect(s.data).toBe(plain);
    }
  });

  it('writes one standard zstd frame that carries the content size', () => {
    const s = compressBlob(compressible, 3);
    expect(s.data.readUInt32LE(0)).toBe(ZSTD_MAGIC);
    expect(binding.getFrameContentSize(s.data)).toBe(compressible.length);
    expect(binding.findFrameCompressedSize(s.data)).toBe(s.data.length); // exactly one frame
    expect(zstdDecompress(s.data).equals(compressible)).toBe(true);
  });

  it('returns a fresh frame each time (the output buffer is reused internally)', () => {
    const a = text(10, 200 * KiB);
    const b = text(11, 200 * KiB);
    const sa = compressBlob(a, 3);
    const copy = Buffer.from(sa.data);
    const sb = compressBlob(b, 3);
    expect(sa.data.equals(copy)).toBe(true);
    expect(decompressBlob(sa.data, sa.compression, a.length).equals(a)).toBe(true);
    expect(decompressBlob(sb.data, sb.compression, b.length).equals(b)).toBe(true);
  });

  it('round-trips a blob larger than the kept output buffer, then small ones again', () => {
    const big = Buffer.alloc(17 * 1024 * KiB).fill(text(20, 333 * KiB));
    expect(roundTrip(big, 3).compression).toBe(Compression.Zstd);
    expect(roundTrip(compressible, 3).compression).toBe(Compression.Zstd);
  });

  it('refuses a frame that does not decompress to the recorded raw length', () => {
    const s = compressBlob(compressible, 3);
    expect(() => decompressBlob(s.data, s.compression, compressible.length - 1)).toThrow();
    expect(() => decompressBlob(s.data, s.compression, compressible.length + 1)).toThrow(/expected/);
    expect(() => decompressBlob(Buffer.from('not a zstd frame'), Compression.Zstd, 10)).toThrow();
  });
});

describe('early skip of incompressible blobs', () => {
  const { minBlob } = EARLY_SKIP;

  it('skips random data of at least minBlob bytes and nothing shorter', () => {
    expect(looksIncompressible(randomBuffer(prng(30), minBlob))).toBe(true);
    expect(looksIncompressible(randomBuffer(prng(31), 2048 * KiB))).toBe(true);
    expect(looksIncompressible(randomBuffer(prng(32), minBlob - 1))).toBe(false);
  });

  it('does not skip text, or hex digits that only entropy coding shrinks', () => {
    expect(looksIncompressible(text(40, 512 * KiB))).toBe(false);
    const h = hex(41, 512 * KiB);
    expect(looksIncompressible(h)).toBe(false);
    const s = roundTrip(h, 3);
    expect(s.compression).toBe(Compression.Zstd);
    expect(s.data.length).toBeLessThan(0.6 * h.length);
  });

  it('does not skip compressible data whose first bytes look random', () => {
    // A random-looking head (a header, an embedded image) followed by text.
    const plain = Buffer.concat([randomBuffer(prng(50), 64 * KiB), text(51, 448 * KiB)]);
    expect(looksIncompressible(plain)).toBe(false);
    const s = roundTrip(plain, 3);
    expect(s.compression).toBe(Compression.Zstd);
    expect(s.data.length).toBeLessThan(0.5 * plain.length);
  });

  it('does not skip data compressible only in its middle or only at its end', () => {
    const n = 512 * KiB;
    const middle = randomBuffer(prng(60), n);
    text(61, 32 * KiB).copy(middle, n / 2 - 16 * KiB);
    expect(looksIncompressible(middle)).toBe(false);
    const end = randomBuffer(prng(62), n);
    text(63, 32 * KiB).copy(end, n - 32 * KiB);
    expect(looksIncompressible(end)).toBe(false);
    expect(roundTrip(end, 3).compression).toBe(Compression.Zstd);
  });

  it('applies at every level, and off stays off', () => {
    const r = randomBuffer(prng(70), 256 * KiB);
    for (const setting of ['auto', 'max', '1', '22']) {
      const s = compressBlob(r, compressionLevel(setting));
      expect(s.compression).toBe(Compression.None);
      expect(s.data).toBe(r);
    }
    expect(compressBlob(text(71, 256 * KiB), 0).compression).toBe(Compression.None);
  });
});
