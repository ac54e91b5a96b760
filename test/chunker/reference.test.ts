// Pins what fastcdc-wasm computes: an independent JS model of the cut rule, and golden cut points.
// Never depends on chunker internals: if fastcdc-wasm's output ever changes, existing repositories stop deduplicating.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fastcdcBoundaries, type ChunkerParams } from '../../src/chunker/index.js';
import { mixedBytes } from './helpers.js';

/** The crate's 256 x 31-bit table, read out of the shipped .wasm (located by its first two entries). */
function tableFromWasm(): Uint32Array {
  const require = createRequire(import.meta.url);
  const wasm = readFileSync(join(dirname(require.resolve('fastcdc-wasm')), 'fastcdc_wasm_bg.wasm'));
  const head = Buffer.alloc(8);
  head.writeUInt32LE(0x5c95c078, 0);
  head.writeUInt32LE(0x22408989, 4);
  const at = wasm.indexOf(head);
  expect(at).toBeGreaterThanOrEqual(0);
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) t[i] = wasm.readUInt32LE(at + 4 * i);
  expect(t[255]).toBe(0x32e8ea7e);
  return t;
}

/** The cut rule described at the top of src/chunker/fastcdc.ts, written out independently. */
function modelCuts(data: Uint8Array, p: ChunkerParams, table: Uint32Array): number[] {
  const bits = Math.round(Math.log2(p.avg));
  const maskHard = 2 ** (bits + 1) - 1;
  const maskEasy = 2 ** (bits - 1) - 1;
  const cuts = [0];
  let s = 0;
  while (s < data.length) {
    const left = data.length - s;
    let size: number;
    if (left <= p.min) {
      size = left;
    } else {
      const limit = Math.min(left, p.max);
      const normal = Math.min(p.avg - Math.min(p.min + Math.ceil(p.min / 2), p.avg), limit);
      size = limit;
      let hash = 0;
      let i = s + p.min;
      let found = false;
      for (; i < s + normal;) {
        hash = (hash >>> 1) + table[data[i++]];
        if ((hash & maskHard) === 0) {
          size = i - s;
          found = true;
          break;
        }
      }
      if (!found) {
        for (; i < s + limit;) {
          hash = (hash >>> 1) + table[data[i++]];
          if ((hash & maskEasy) === 0) {
            size = i - s;
            break;
          }
        }
      }
    }
    s += size;
    cuts.push(s);
  }
  return cuts;
}

const fc = (min: number, avg: number, max: number): ChunkerParams => ({ algorithm: 'fastcdc-ronomon', min, avg, max });

describe('fastcdc-wasm 0.1.0 = fastcdc crate 1.0.5 (ronomon-style FastCDC)', () => {
  const table = tableFromWasm();
  const data = mixedBytes(3 << 20, 77);
  for (const p of [
    fc(64, 256, 1024),
    fc(2048, 8192, 65536),
    fc(1000, 3000, 20000), // avg not a power of two: masks use round(log2(avg))
    fc(6000, 8192, 9000), // min + min/2 > avg: only the easy mask is used
    fc(16384, 65536, 262144),
    fc(65536, 262144, 1048576),
  ]) {
    it(`model matches WASM for ${p.min}/${p.avg}/${p.max}`, () => {
      expect(Array.from(fastcdcBoundaries(data, p))).toEqual(modelCuts(data, p, table));
    });
  }

  it('golden cut points (if these change, stored repositories lose deduplication)', () => {
    const d = mixedBytes(16 << 20, 1);
    expect(Array.from(fastcdcBoundaries(d, fc(524288, 1048576, 8388608)))).toEqual([
      0, 1844757, 4402891, 5899062, 6519594, 7753797, 10187354, 12011381, 13690145, 16716646, 16777216,
    ]);
    expect(Array.from(fastcdcBoundaries(d.subarray(0, 1 << 20), fc(16384, 65536, 262144)))).toEqual([
      0, 67938, 88959, 161566, 264807, 313012, 366227, 417777, 465417, 727561, 745797, 896541, 966959, 1013812, 1048576,
    ]);
  });
});
