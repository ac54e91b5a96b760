// Compression settings and per-blob zstd (spec §6): a blob that does not shrink is stored as is.
// Never compress after sealing: ciphertext does not compress and would leak nothing useful.

import { compress, decompress } from 'zstd-napi';
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
  throw new RepoError('INVALID_ARGUMENT', `invalid compression "${setting}": use off, auto, max or a level from 1 to 22`);
}

export function validateCompression(setting: CompressionSetting): CompressionSetting {
  compressionLevel(setting);
  return setting;
}

export function compressBlob(plain: Buffer, level: number): { data: Buffer; compression: Compression } {
  if (level > 0 && plain.length > 0) {
    const z = compress(plain, { compressionLevel: level });
    if (z.length < plain.length) return { data: z, compression: Compression.Zstd };
  }
  return { data: plain, compression: Compression.None };
}

export function decompressBlob(data: Buffer, compression: Compression, rawLength: number): Buffer {
  if (compression === Compression.None) return data;
  const out = decompress(data);
  if (out.length !== rawLength) throw new RangeError(`decompressed ${out.length} bytes, expected ${rawLength}`);
  return out;
}
