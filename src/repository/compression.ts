// Compression settings and per-blob zstd (spec §6): a blob that does not shrink is stored as is.
// Never compress after sealing: ciphertext does not compress and would leak nothing useful.
//
// Measured in bench/compression-levels (RESULTS.md there): zstd 3 stays the level for 'auto' (levels 1
// and 2 store 3-11 % more on source trees and binaries); the CPU is saved instead by reusing one
// compression context and one output buffer per thread (the one-shot zstd-napi compress() allocated a
// compressBound()-sized buffer per blob, which cost more than compressing random data), and by storing
// blobs that look incompressible raw without compressing them (see looksIncompressible).

import { createRequire } from 'node:module';
import type bindingType from 'zstd-napi/binding.js';
import { RepoError } from '../core/errors.js';
import { Compression } from './blob.js';

/** 'off', 'auto' (zstd 3), 'max' (zstd 19) or a level 1..22 as a decimal string. */
export type CompressionSetting = string;

export function compressionLevel(setting: CompressionSetting): number {
  if (setting === 'off') return 0;
  if (setting === 'auto') return 3;
  if (setting === 'max') return 19;
  if (/^\d{1,2}$/.test(setting)) {
    const n = Number(setting);
    if (n >= 1 && n <= 22) return n;
  }
  throw new RepoError(
    'INVALID_ARGUMENT',
    `invalid compression "${setting}": use off, auto, max or a level from 1 to 22`,
  );
}

export function validateCompression(setting: CompressionSetting): CompressionSetting {
  compressionLevel(setting);
  return setting;
}

/**
 * The early-skip rule. A blob of at least `minBlob` bytes is incompressible when each of `samples`
 * windows of `sampleSize` bytes (at its start, middle and end) compressed at zstd level `sampleLevel`
 * keeps at least `keepRatio` of its length. Sampling stops at the first window that shrinks more, so
 * compressible data pays for one 4 KiB level-1 compression (about 1 % of compressing a 512 KiB blob).
 * A blob is never skipped because of its first bytes alone: a random-looking start (a header, an
 * embedded image) with compressible data in the middle or at the end is compressed.
 */
export const EARLY_SKIP = Object.freeze({
  minBlob: 64 * 1024,
  sampleSize: 4096,
  samples: 3,
  sampleLevel: 1,
  keepRatio: 0.97,
});

/** Output buffers up to this size are kept for the next blob (per thread); larger ones are temporary. */
const SCRATCH_KEEP = 16 * 1024 * 1024;

// One context and one output buffer per thread (module state is per worker thread): compressing with a
// reused ZSTD_CCtx into a reused buffer avoids an allocation and a page-faulting fresh buffer per blob.
let cctx: bindingType.CCtx | undefined;
let dctx: bindingType.DCtx | undefined;
// The native addon is loaded at the first blob, not at start-up (`repo version` and `--help` never need it).
let zstd: typeof bindingType | undefined;
function binding(): typeof bindingType {
  return (zstd ??= createRequire(import.meta.url)('zstd-napi/binding.js') as typeof bindingType);
}
let scratch: Buffer | undefined;

function outputBuffer(srcLength: number): Buffer {
  const need = binding().compressBound(srcLength);
  if (scratch && scratch.length >= need) return scratch;
  const buf = Buffer.allocUnsafeSlow(Math.max(need, 64 * 1024));
  if (buf.length <= SCRATCH_KEEP) scratch = buf;
  return buf;
}

/** True if `plain` would be stored raw under the early-skip rule (EARLY_SKIP) without being compressed. */
export function looksIncompressible(plain: Uint8Array): boolean {
  const { minBlob, sampleSize, samples, sampleLevel, keepRatio } = EARLY_SKIP;
  if (plain.length < minBlob) return false;
  const ctx = (cctx ??= new (binding().CCtx)());
  const dst = outputBuffer(sampleSize);
  for (let i = 0; i < samples; i++) {
    const at = Math.floor(((plain.length - sampleSize) * i) / (samples - 1));
    const n = ctx.compress(dst, plain.subarray(at, at + sampleSize), sampleLevel);
    if (n < keepRatio * sampleSize) return false;
  }
  return true;
}

/**
 * The stored form of a blob's plaintext at zstd `level` (0 = off): one zstd frame if that is shorter,
 * else the plaintext itself (Compression.None). Blobs that look incompressible (looksIncompressible) are
 * stored raw without compressing them, at every level. The returned frame is a fresh buffer.
 */
export function compressBlob(plain: Buffer, level: number): { data: Buffer; compression: Compression } {
  if (level > 0 && plain.length > 0 && !looksIncompressible(plain)) {
    const ctx = (cctx ??= new (binding().CCtx)());
    const dst = outputBuffer(plain.length);
    const n = ctx.compress(dst, plain, level);
    if (n < plain.length) return { data: Buffer.from(dst.subarray(0, n)), compression: Compression.Zstd };
  }
  return { data: plain, compression: Compression.None };
}

/** The plaintext of a stored blob; throws unless it decompresses to exactly `rawLength` bytes. */
export function decompressBlob(data: Buffer, compression: Compression, rawLength: number): Buffer {
  if (compression === Compression.None) return data;
  const out = Buffer.allocUnsafe(rawLength);
  // A frame that holds more than rawLength bytes fails here ("Destination buffer is too small").
  const n = (dctx ??= new (binding().DCtx)()).decompress(out, data);
  if (n !== rawLength) throw new RangeError(`decompressed ${n} bytes, expected ${rawLength}`);
  return out;
}
