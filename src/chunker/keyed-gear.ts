// Format 2's keyed chunker: FastCDC's cutting rule over a gear hash whose 256-entry table is derived from the
// repository's secret chunker key, so the same file is cut at unrelated places in two repositories.
// Must never let the secret or the table leave this module except as the table the cut rule reads.

import { RepoError } from '../core/errors.js';
import { blake3Binding } from '../crypto/blake3.js';
import type { ChunkerParams } from './params.js';

/** BLAKE3 derive_key context of the gear-table key (spec/format-2.md §3). Changing it changes every boundary. */
export const GEAR_TABLE_CONTEXT = 'repo format 2 keyed gear table v1';

/** Length of a chunker secret in bytes (stored hex-encoded in the encrypted config). */
export const CHUNKER_SECRET_LENGTH = 32;

/**
 * The keyed gear table: K = BLAKE3-derive_key(GEAR_TABLE_CONTEXT, secret); bytes = BLAKE3-keyed(K, u32le(0)) ||
 * ... || BLAKE3-keyed(K, u32le(31)) (1024 bytes); entry i = (uint32 little-endian at 4i) & 0x7fffffff, 31 bits
 * as format 1's public table.
 */
export function keyedGearTable(secret: Uint8Array): Uint32Array {
  if (secret.length !== CHUNKER_SECRET_LENGTH)
    throw new RepoError('INVALID_ARGUMENT', `a chunker secret is ${CHUNKER_SECRET_LENGTH} bytes`);
  const { Blake3Hasher } = blake3Binding();
  const tableKey = Blake3Hasher.deriveKey(GEAR_TABLE_CONTEXT, Buffer.from(secret));
  const hasher = Blake3Hasher.newKeyed(tableKey);
  const bytes = Buffer.alloc(1024);
  const counter = Buffer.alloc(4);
  for (let j = 0; j < 32; j++) {
    counter.writeUInt32LE(j, 0);
    hasher.reset();
    hasher.update(counter);
    hasher.digestBuffer().copy(bytes, 32 * j);
  }
  tableKey.fill(0);
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) table[i] = bytes.readUInt32LE(4 * i) & 0x7fffffff;
  bytes.fill(0);
  return table;
}

/**
 * Where the strict mask gives way to the loose one, counted from the chunk start: format 1's normalization point
 * (ronomon's center size), so both formats cut chunks of the same size distribution.
 */
export function normalPoint(min: number, avg: number): number {
  return avg - Math.min(min + Math.ceil(min / 2), avg);
}

// The hash after scan() found no cut (a second return value without allocating).
let scanHash = 0;

/**
 * Feeds bytes[i, end) into the gear hash h and returns the index after the first byte whose hash has no bit of
 * `mask` set, or -1 (the hash is then left in scanHash). Table entries are 31-bit, so (h >>> 1) + entry < 2^32:
 * "| 0" keeps V8 on int32 arithmetic and the next ">>> 1" reads the same 32 bits back. Unrolled by four.
 */
function scan(bytes: Uint8Array, i: number, end: number, h: number, mask: number, table: Int32Array): number {
  const end4 = end - 3;
  for (; i < end4; i += 4) {
    h = ((h >>> 1) + table[bytes[i]]) | 0;
    if ((h & mask) === 0) return i + 1;
    h = ((h >>> 1) + table[bytes[i + 1]]) | 0;
    if ((h & mask) === 0) return i + 2;
    h = ((h >>> 1) + table[bytes[i + 2]]) | 0;
    if ((h & mask) === 0) return i + 3;
    h = ((h >>> 1) + table[bytes[i + 3]]) | 0;
    if ((h & mask) === 0) return i + 4;
  }
  for (; i < end; i++) {
    h = ((h >>> 1) + table[bytes[i]]) | 0;
    if ((h & mask) === 0) return i + 1;
  }
  scanHash = h;
  return -1;
}

/**
 * Cut points of `bytes` taken as a whole input: [0, c1, ..., bytes.length] ([0] for no bytes). Format 1's rule
 * (spec §6) with the keyed table: from each chunk start s with n bytes left, n <= min is one chunk; else
 * n' = min(n, max), h = 0, and for each i from s + min on, h = (h >>> 1) + T[byte i]; a cut follows byte i when
 * h & (2^(bits+1) - 1) == 0 while i < s + min(normalPoint, n'), and when h & (2^(bits-1) - 1) == 0 after;
 * bits = round(log2(avg)); with no cut the chunk is n' bytes. Exactly spec/format-2.md §3.
 */
export function keyedGearBoundaries(
  bytes: Uint8Array,
  min: number,
  avg: number,
  max: number,
  table: Int32Array,
): Uint32Array {
  const n = bytes.length;
  const cuts: number[] = [0];
  const bits = Math.round(Math.log2(avg));
  const strict = 2 ** (bits + 1) - 1;
  const loose = 2 ** (bits - 1) - 1;
  const normal = normalPoint(min, avg);
  let s = 0;
  while (s < n) {
    const left = n - s;
    if (left <= min) {
      cuts.push(n);
      break;
    }
    const end = s + Math.min(left, max);
    const mid = Math.max(s + min, Math.min(s + normal, end));
    let cut = scan(bytes, s + min, mid, 0, strict, table);
    if (cut < 0) cut = scan(bytes, mid, end, mid > s + min ? scanHash : 0, loose, table);
    if (cut < 0) cut = end;
    cuts.push(cut);
    s = cut;
  }
  return Uint32Array.from(cuts);
}

/** A boundary function bound to one repository's table, shaped as fastcdc.ts calls its cutter. */
export type CutFunction = (bytes: Uint8Array, min: number, avg: number, max: number) => Uint32Array;

/** The cutter for keyed params (params.secret must be set). */
export function keyedCutter(params: ChunkerParams): CutFunction {
  if (params.secret === undefined) throw new RepoError('INVALID_ARGUMENT', 'a keyed chunker needs its secret');
  const table = Int32Array.from(keyedGearTable(Buffer.from(params.secret, 'hex')));
  return (bytes, min, avg, max) => keyedGearBoundaries(bytes, min, avg, max, table);
}
