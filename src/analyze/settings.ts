// Chunker settings that `repo analyze` compares: the built-in sweep and short labels such as "128K/512K/2M".
// Pure values and formatting; every setting is validated by the chunker before use.

import {
  DEFAULT_CHUNKER_PARAMS,
  FASTCDC_ALGORITHM,
  validateChunkerParams,
  type ChunkerParams,
} from '../chunker/chunker.js';

const K = 1024;
const M = 1024 * 1024;
const p = (min: number, avg: number, max: number): ChunkerParams => ({ algorithm: FASTCDC_ALGORITHM, min, avg, max });

/**
 * `--chunker-sweep`: from small chunks (best dedupe, biggest index) to restic's and kopia's sizes, around the default
 * (the list bench/chunker-params measured, minus its extremes).
 */
export const CHUNKER_SWEEP: readonly ChunkerParams[] = Object.freeze([
  p(64 * K, 256 * K, 1 * M),
  p(DEFAULT_CHUNKER_PARAMS.min, DEFAULT_CHUNKER_PARAMS.avg, DEFAULT_CHUNKER_PARAMS.max),
  p(256 * K, 1 * M, 4 * M),
  p(512 * K, 1 * M, 8 * M), // restic
  p(1 * M, 2 * M, 8 * M),
  p(2 * M, 4 * M, 8 * M), // kopia
]);

/** Bytes of the in-memory index per blob (src/repository/master-index.ts). */
export const INDEX_BYTES_PER_BLOB = 57;

/** Per-blob storage overhead of sealing: 24-byte nonce + 16-byte tag (spec §3). */
export const SEAL_OVERHEAD = 40;

/** 131072 → "128K", 1048576 → "1M"; sizes that are not whole KiB stay in bytes. */
export function shortSize(n: number): string {
  if (n % M === 0) return `${n / M}M`;
  if (n % K === 0) return `${n / K}K`;
  return String(n);
}

export function settingLabel(c: ChunkerParams): string {
  return `${shortSize(c.min)}/${shortSize(c.avg)}/${shortSize(c.max)}`;
}

export function sameSetting(a: ChunkerParams, b: ChunkerParams): boolean {
  return a.algorithm === b.algorithm && a.min === b.min && a.avg === b.avg && a.max === b.max;
}

/** Validates and removes duplicates, keeping the first occurrence's position. */
export function uniqueSettings(list: readonly ChunkerParams[]): ChunkerParams[] {
  const out: ChunkerParams[] = [];
  for (const c of list) {
    const v = validateChunkerParams(c, 'argument');
    if (!out.some((o) => sameSetting(o, v))) out.push(v);
  }
  return out;
}
