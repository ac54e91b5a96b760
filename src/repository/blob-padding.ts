// Format 2's length hiding (spec/format-2.md §4): every blob is stored as zstd frames whose total length is a
// Padmé size class, the padding being one zstd skippable frame. Any zstd decoder skips such a frame, so
// padded blobs open exactly as format 1's (decompressBlob) and readers need no change.

import { Compression } from './blob.js';
import { compressBlob } from './compression.js';

/** zstd frame magic number (RFC 8878 §3.1.1). */
const ZSTD_MAGIC = 0xfd2fb528;
/** Skippable frame magic used for padding: 0x184D2A50 + 0xE (RFC 8878 §3.1.2 allows any of 0x184D2A5?). */
const SKIPPABLE_MAGIC = 0x184d2a5e;
/** A skippable frame's header: magic and a 4-byte little-endian length of what follows. */
const SKIPPABLE_HEADER = 8;
/** Largest raw block a frame may hold (RFC 8878 §3.1.1.2.3: Block_Maximum_Size). */
const MAX_RAW_BLOCK = 128 * 1024;

/**
 * Padmé (Nikitin et al., PETS 2019): the size class of length L >= 2 keeps the top floor(log2(E)) + 1 bits of L
 * (E = floor(log2 L)) and rounds the rest up; at most ~12 % larger (11.1 % at L = 2^16), leaking O(log log L)
 * bits. Arithmetic on doubles: blobs are far below 2^53.
 */
export function padme(length: number): number {
  if (length < 2) return length;
  const e = Math.floor(Math.log2(length));
  const s = Math.floor(Math.log2(e)) + 1;
  const lastBits = e - s;
  const step = 2 ** lastBits;
  return Math.ceil(length / step) * step;
}

/** The stored length (before sealing) of a payload of `length` bytes: Padmé of it plus a skippable header. */
export function paddedLength(length: number): number {
  return padme(length + SKIPPABLE_HEADER);
}

/** Length of a zstd frame holding `length` bytes in raw blocks: a 9-byte header and 3 bytes per 128 KiB block. */
function rawFrameLength(length: number): number {
  return 9 + 3 * Math.max(1, Math.ceil(length / MAX_RAW_BLOCK)) + length;
}

/**
 * Writes a zstd frame holding `plain` in raw blocks (no compression) at the start of `out`: incompressible blobs
 * are framed this way so that every format-2 blob is zstd and can carry padding.
 */
function writeRawZstdFrame(plain: Uint8Array, out: Buffer): void {
  const blocks = Math.max(1, Math.ceil(plain.length / MAX_RAW_BLOCK));
  out.writeUInt32LE(ZSTD_MAGIC, 0);
  // Frame header descriptor: Single_Segment_flag (0x20) and a 4-byte Frame_Content_Size (flag 2 = 0x80).
  out[4] = 0xa0;
  out.writeUInt32LE(plain.length, 5);
  let at = 9;
  for (let b = 0; b < blocks; b++) {
    const from = b * MAX_RAW_BLOCK;
    const len = Math.min(MAX_RAW_BLOCK, plain.length - from);
    const last = b === blocks - 1 ? 1 : 0;
    out.writeUIntLE(last | (len << 3), at, 3); // Block_Type 0 = Raw_Block
    at += 3;
    out.set(plain.subarray(from, from + len), at);
    at += len;
  }
}

/**
 * Format 2's stored form of a blob: `data` as compressBlob made it (a zstd frame, or the plaintext for
 * Compression.None, which is framed raw here), followed by a skippable frame up to paddedLength(). Built in one
 * buffer with one copy of the bytes: this runs for every blob a backup stores.
 */
export function padBlob(data: Buffer, compression: Compression): { data: Buffer; compression: Compression } {
  const frameLength = compression === Compression.None ? rawFrameLength(data.length) : data.length;
  const total = paddedLength(frameLength);
  const out = Buffer.allocUnsafe(total);
  if (compression === Compression.None) writeRawZstdFrame(data, out);
  else data.copy(out, 0);
  out.writeUInt32LE(SKIPPABLE_MAGIC, frameLength);
  out.writeUInt32LE(total - frameLength - SKIPPABLE_HEADER, frameLength + 4);
  out.fill(0, frameLength + SKIPPABLE_HEADER); // the padding's content is zero bytes
  return { data: out, compression: Compression.Zstd };
}

/** What gets sealed for a blob: compressBlob's form, padded when the repository pads (format 2). */
export function storedForm(plain: Buffer, level: number, pad: boolean): { data: Buffer; compression: Compression } {
  const form = compressBlob(plain, level);
  return pad ? padBlob(form.data, form.compression) : form;
}
