// Format 2's keyed chunker against spec/format-2.md: the table derivation recomputed with another BLAKE3
// implementation (@noble/hashes), the cut rule written out again from the spec's words, the committed test
// vectors (test/fixtures/format2-vectors.json), and streaming cuts equal to whole-input cuts.
import fs from 'node:fs';
import path from 'node:path';
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js';
import { describe, expect, it } from 'vitest';
import { createChunker, GEAR_TABLE_CONTEXT, keyedGearBoundaries, keyedGearTable } from '../../src/chunker/index.js';
import { blake3 } from '../../src/crypto/blake3.js';
import { padme, paddedLength } from '../../src/repository/blob-padding.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const vectors = JSON.parse(fs.readFileSync(path.join(here, '../fixtures/format2-vectors.json'), 'utf8'));
const secret = Buffer.from(vectors.secret as string, 'hex');

/** The vectors' input: bytes 32j..32j+31 are BLAKE3(u32le(j)) (the native binding: 262,144 small hashes). */
function vectorInput(n: number): Buffer {
  const out = Buffer.alloc(n);
  const c = Buffer.alloc(4);
  for (let j = 0; j * 32 < n; j++) {
    c.writeUInt32LE(j);
    blake3(c).copy(out, 32 * j);
  }
  return out;
}

/** spec §3 in the plainest words: format 1's rule (spec §6) over the keyed table, one byte at a time. */
function specCuts(data: Uint8Array, min: number, avg: number, max: number, table: Uint32Array): number[] {
  const bits = Math.round(Math.log2(avg));
  const cuts = [0];
  let s = 0;
  while (s < data.length) {
    const n = data.length - s;
    if (n <= min) {
      cuts.push(data.length);
      break;
    }
    const n2 = Math.min(n, max);
    const normal = Math.min(avg - Math.min(min + Math.ceil(min / 2), avg), n2);
    let h = 0;
    let cut = s + n2;
    for (let i = s + min; i < s + n2; i++) {
      h = Math.floor(h / 2) + table[data[i]];
      const mask = i < s + normal ? 2 ** (bits + 1) : 2 ** (bits - 1);
      if (h % mask === 0) {
        cut = i + 1;
        break;
      }
    }
    cuts.push(cut);
    s = cut;
  }
  return cuts;
}

describe('keyed gear chunker (format 2)', () => {
  it('derives the table as the spec says (checked with a second BLAKE3 implementation)', () => {
    const tableKey = nobleBlake3(secret, { context: new TextEncoder().encode(GEAR_TABLE_CONTEXT) });
    const bytes = Buffer.alloc(1024);
    for (let j = 0; j < 32; j++) {
      const c = Buffer.alloc(4);
      c.writeUInt32LE(j);
      Buffer.from(nobleBlake3(c, { key: tableKey })).copy(bytes, 32 * j);
    }
    const table = keyedGearTable(secret);
    for (let i = 0; i < 256; i++) expect(table[i]).toBe(bytes.readUInt32LE(4 * i) & 0x7fffffff);
    expect(Array.from(table.slice(0, 8))).toEqual(vectors.table_first8);
    expect(Buffer.from(nobleBlake3(Buffer.from(table.buffer, table.byteOffset, 1024))).toString('hex')).toBe(
      vectors.table_blake3,
    );
    // Another secret, another table.
    expect(keyedGearTable(Buffer.alloc(32, 1))[0]).not.toBe(table[0]);
  });

  it('cuts the vector input at the committed points, as the spec text computes them', () => {
    const data = vectorInput(8 * 1024 * 1024);
    expect(blake3(data).toString('hex')).toBe(vectors.input_blake3);
    const table = keyedGearTable(secret);
    const signed = Int32Array.from(table);
    for (const c of vectors.cases as { min: number; avg: number; max: number; cuts: number[] }[]) {
      expect(Array.from(keyedGearBoundaries(data, c.min, c.avg, c.max, signed))).toEqual(c.cuts);
    }
    // The plain transcription is slow (doubles, one byte at a time): the first 2 MiB of the small-chunk case.
    const c = vectors.cases[1] as { min: number; avg: number; max: number; cuts: number[] };
    const head = specCuts(data.subarray(0, 2 << 20), c.min, c.avg, c.max, table);
    expect(head.slice(0, -1)).toEqual(c.cuts.slice(0, head.length - 1));
  });

  it('streams: cuts do not depend on how the input arrives', async () => {
    const data = vectorInput(3 * 1024 * 1024);
    const params = { algorithm: 'gear-keyed' as const, min: 16384, avg: 65536, max: 262144, secret: vectors.secret };
    const expected = vectors.cases[1].cuts.filter((x: number) => x <= data.length);
    for (const piece of [4099, 1 << 20]) {
      const chunker = createChunker(params, { windowSize: 1 << 20 });
      async function* pieces() {
        for (let at = 0; at < data.length; at += piece) yield data.subarray(at, at + piece);
      }
      const lengths: number[] = [];
      for await (const c of chunker.chunks(pieces())) lengths.push(c.length);
      let at = 0;
      const cuts = [0, ...lengths.map((l) => (at += l))];
      // Same points as the whole 8 MiB input up to where this shorter input ends (its last chunk ends there).
      expect(cuts.slice(0, -1)).toEqual(expected.slice(0, cuts.length - 1));
      expect(cuts[cuts.length - 1]).toBe(data.length);
    }
  });

  it('pads to Padmé classes', () => {
    for (const [n, p, padded] of vectors.padme as number[][]) {
      expect(padme(n)).toBe(p);
      expect(paddedLength(n)).toBe(padded);
    }
  });
});
