// Index files (spec §8): which pack holds which blob. Encoding and decoding of the plaintext only.
// Sealing and storage happen in the repository; this module never does I/O.

import { FormatError } from '../core/errors.js';
import { idFromHex, idToHex } from '../core/id.js';
import { checkEntry, ENTRY_SIZE, readEntry, writeEntry, type BlobEntry } from './blob.js';

const MAGIC = Buffer.from('RIX1', 'ascii');

export interface PackRecord {
  pack: string; // hex storage id
  blobs: BlobEntry[];
}

export interface IndexFile {
  supersedes: string[];
  packs: PackRecord[];
}

export function encodeIndex(idx: IndexFile): Buffer {
  let size = 4 + 4 + idx.supersedes.length * 32 + 4;
  for (const p of idx.packs) size += 32 + 4 + p.blobs.length * ENTRY_SIZE;
  const buf = Buffer.alloc(size);
  let at = MAGIC.copy(buf, 0);
  buf.writeUInt32LE(idx.supersedes.length, at);
  at += 4;
  for (const s of idx.supersedes) at += idFromHex(s).copy(buf, at);
  buf.writeUInt32LE(idx.packs.length, at);
  at += 4;
  for (const p of idx.packs) {
    at += idFromHex(p.pack).copy(buf, at);
    buf.writeUInt32LE(p.blobs.length, at);
    at += 4;
    for (const b of p.blobs) {
      writeEntry(buf, at, b);
      at += ENTRY_SIZE;
    }
  }
  return buf;
}

/** One pack of an index file with its entries as the file's own 48-byte records (checked), not as objects. */
export interface PackRecords {
  pack: string; // hex storage id
  /** A view into the decoded file: `records.length / ENTRY_SIZE` entries. */
  records: Buffer;
}

/**
 * An index file checked as decodeIndex checks it, every entry included, with each pack's entries left as
 * records: loading a repository's index makes no object per blob (MasterIndex.addRecords reads them).
 */
export function decodeIndexRecords(buf: Buffer, name: string): { supersedes: string[]; packs: PackRecords[] } {
  const ctx = { file: `index/${name}` };
  const need = (at: number, n: number) => {
    if (at + n > buf.length) throw new FormatError(`index ${name} is truncated`, ctx);
  };
  need(0, 8);
  if (!buf.subarray(0, 4).equals(MAGIC)) throw new FormatError(`index ${name} has an unknown format`, ctx);
  let at = 4;
  const nSuper = buf.readUInt32LE(at);
  at += 4;
  need(at, nSuper * 32 + 4);
  const supersedes: string[] = [];
  for (let i = 0; i < nSuper; i++, at += 32) supersedes.push(idToHex(buf.subarray(at, at + 32)));
  const nPacks = buf.readUInt32LE(at);
  at += 4;
  const packs: PackRecords[] = [];
  for (let i = 0; i < nPacks; i++) {
    need(at, 36);
    const pack = idToHex(buf.subarray(at, at + 32));
    const n = buf.readUInt32LE(at + 32);
    at += 36;
    need(at, n * ENTRY_SIZE);
    const packCtx = { ...ctx, pack }; // one per pack, not per blob: indexes hold hundreds of thousands
    for (let k = 0; k < n; k++) checkEntry(buf, at + k * ENTRY_SIZE, packCtx);
    packs.push({ pack, records: buf.subarray(at, at + n * ENTRY_SIZE) });
    at += n * ENTRY_SIZE;
  }
  if (at !== buf.length) throw new FormatError(`index ${name} has trailing bytes`, ctx);
  return { supersedes, packs };
}

export function decodeIndex(buf: Buffer, name: string): IndexFile {
  const { supersedes, packs } = decodeIndexRecords(buf, name);
  return {
    supersedes,
    packs: packs.map(({ pack, records }) => {
      const packCtx = { file: `index/${name}`, pack };
      const blobs: BlobEntry[] = new Array(records.length / ENTRY_SIZE);
      for (let k = 0; k < blobs.length; k++) blobs[k] = readEntry(records, k * ENTRY_SIZE, packCtx);
      return { pack, blobs };
    }),
  };
}
