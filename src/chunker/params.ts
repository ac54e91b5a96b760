// Chunker parameters: their type, the library's accepted ranges, validation and the default.
// Must never let parameters reach fastcdc-wasm unvalidated (a bad value traps inside WASM).

import { FormatError, RepoError } from '../core/errors.js';

/**
 * The name stored in a repository config's `chunker.algorithm`: FastCDC as ported from
 * ronomon/deduplication (the 2016 algorithm, 31-bit gear hash shifted right, fixed 256-entry table,
 * normalization level 1), as computed by fastcdc-wasm 0.1.0 (Rust crate fastcdc 1.0.5).
 * spec/repository-format.md §6 gives the exact cutting rule.
 */
export const FASTCDC_ALGORITHM = 'fastcdc-ronomon' as const;

/**
 * Format 2's chunker (spec/format-2.md §3): the same cut rule geometry over a gear hash whose table is derived
 * from `secret`, so boundaries differ between repositories that do not share the secret.
 */
export const KEYED_GEAR_ALGORITHM = 'gear-keyed' as const;

export type ChunkerAlgorithm = typeof FASTCDC_ALGORITHM | typeof KEYED_GEAR_ALGORITHM;

export interface ChunkerParams {
  algorithm: ChunkerAlgorithm;
  /** No chunk is shorter, except the last chunk of a file. */
  min: number;
  /** Target ("normal") chunk size; its base-2 logarithm, rounded, sets the cut masks. */
  avg: number;
  /** No chunk is longer. */
  max: number;
  /** gear-keyed only: 32 random bytes, hex; lives only in the encrypted config (never printed or logged). */
  secret?: string;
}

/**
 * Ranges the underlying fastcdc crate (1.0.5) asserts; values outside trap in WASM.
 * `maxMax` is tighter than the crate's 1 GiB: the streaming window holds at least
 * 2 x max bytes twice (JS + WASM copy), and blobs larger than 64 MiB are never useful.
 */
export const CHUNKER_LIMITS = Object.freeze({
  minMin: 64,
  minMax: 67_108_864, // crate limit (64 MiB)
  avgMin: 256,
  avgMax: 268_435_456, // crate limit (256 MiB)
  maxMin: 1024,
  maxMax: 67_108_864, // project limit; the crate allows 1 GiB
});

/**
 * Default parameters for new repositories: min 128 KiB / avg 512 KiB / max 2 MiB.
 * Chosen with bench/chunker-params/measure.mjs (results in bench/chunker-params/RESULTS.md):
 * with this FastCDC variant, avg >= 1 MiB makes chunks of text-like data 2-3x larger than avg
 * and loses most deduplication of edited large files; avg 512 KiB costs ~2 blobs per MiB stored.
 */
export const DEFAULT_CHUNKER_PARAMS: Readonly<ChunkerParams> = Object.freeze({
  algorithm: FASTCDC_ALGORITHM,
  min: 131_072,
  avg: 524_288,
  max: 2_097_152,
});

/** Where parameters came from: a caller (→ INVALID_ARGUMENT) or a stored repository config (→ FORMAT). */
export type ParamsOrigin = 'argument' | 'config';

function fail(origin: ParamsOrigin, message: string): never {
  if (origin === 'config') throw new FormatError(`repository config: ${message}`, { file: 'config' });
  throw new RepoError('INVALID_ARGUMENT', message);
}

function checkInt(origin: ParamsOrigin, name: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    fail(origin, `chunker.${name} must be an integer, got ${describe(v)}`);
  }
  if (v < lo || v > hi) fail(origin, `chunker.${name} must be between ${lo} and ${hi}, got ${v}`);
  return v;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.slice(0, 40));
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  return typeof v;
}

/**
 * Checks chunker parameters (e.g. parsed from JSON) and returns a clean copy holding only the
 * known members (unknown members are ignored, as the config spec says for readers).
 * Requires min < avg < max and the ranges in CHUNKER_LIMITS; powers of two are not required
 * (the crate rounds log2(avg) to the nearest integer for its masks).
 * Throws RepoError 'INVALID_ARGUMENT' for origin 'argument' (the default), FormatError for 'config'.
 */
export function validateChunkerParams(p: unknown, origin: ParamsOrigin = 'argument'): ChunkerParams {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) {
    fail(origin, `chunker parameters must be an object, got ${describe(p)}`);
  }
  const o = p as Record<string, unknown>;
  if (o.algorithm !== FASTCDC_ALGORITHM && o.algorithm !== KEYED_GEAR_ALGORITHM) {
    fail(
      origin,
      `unknown chunker algorithm ${describe(o.algorithm)} (this version knows "${FASTCDC_ALGORITHM}" and "${KEYED_GEAR_ALGORITHM}")`,
    );
  }
  const L = CHUNKER_LIMITS;
  const min = checkInt(origin, 'min', o.min, L.minMin, L.minMax);
  const avg = checkInt(origin, 'avg', o.avg, L.avgMin, L.avgMax);
  const max = checkInt(origin, 'max', o.max, L.maxMin, L.maxMax);
  if (!(min < avg && avg < max)) fail(origin, `chunker sizes must satisfy min < avg < max, got ${min}/${avg}/${max}`);
  if (o.algorithm === FASTCDC_ALGORITHM) return { algorithm: FASTCDC_ALGORITHM, min, avg, max };
  // The secret's value is never echoed: a config error message may be printed.
  if (typeof o.secret !== 'string' || !/^[0-9a-f]{64}$/.test(o.secret))
    fail(origin, 'chunker.secret must be 64 lowercase hex digits');
  return { algorithm: KEYED_GEAR_ALGORITHM, min, avg, max, secret: o.secret };
}
