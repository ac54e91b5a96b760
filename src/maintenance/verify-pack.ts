// Verifies one whole pack held in memory: its storage hash, its header against the index, and every blob
// (decrypt, decompress, re-hash). Pure and synchronous, so `check --read-data` can run it on worker threads.
// Index entries travel as 48-byte records and results name only what is wrong, because cloning thousands
// of entry objects per pack between threads cost more than checking them.

import { errorMessage } from '../core/errors.js';
import { idToHex } from '../core/id.js';
import { ENTRY_SIZE, readEntry, writeEntry, type BlobEntry, type BlobType } from '../repository/blob.js';
import { packHashMatches, packHeaderFromBytes } from '../repository/pack-reader.js';
import type { PackVerifier } from './pack-verifier.js';

/** A pack loaded by the main thread (other backends than a local directory), for a verify thread. */
export interface VerifyPackJob {
  /** The pack's position in the list being checked. */
  job: number;
  pack: string;
  bytes: Uint8Array;
  /** The index's entries for this pack (writeEntries): compared with the header, or checked instead of it when it is unreadable. */
  indexed: Uint8Array;
}

export interface VerifyPackResult {
  job: number;
  /** Why the pack could not be read; then nothing below was checked. */
  readError?: string;
  size: number;
  hashOk: boolean;
  /** Why the pack's own header could not be read; then the index's entries were checked instead. */
  headerError?: string;
  /** Positions of the indexed entries that the (readable) header does not list at the same place. */
  mismatched: number[];
  blobsChecked: number;
  damaged: { type: BlobType; id: string; message: string }[];
}

/** Writes entries as the 48-byte records of pack headers and index files into `out` at `at`. */
export function writeEntries(out: Buffer, at: number, entries: readonly BlobEntry[]): void {
  for (let i = 0; i < entries.length; i++) writeEntry(out, at + i * ENTRY_SIZE, entries[i]);
}

/** The entries of 48-byte records (writeEntries). */
export function decodeEntries(records: Buffer, pack: string): BlobEntry[] {
  const out: BlobEntry[] = [];
  for (let at = 0; at + ENTRY_SIZE <= records.length; at += ENTRY_SIZE) out.push(readEntry(records, at, { pack }));
  return out;
}

/**
 * Positions in `indexed` of the entries that `header` does not list at the same place: the same type and id
 * (the last header entry wins if there are several) with the same offset, lengths and compression.
 */
export function indexMismatches(indexed: readonly BlobEntry[], header: readonly BlobEntry[]): number[] {
  // A latin1 string of the id is a cheap exact key (one char per byte); hex strings cost far more per entry.
  const key = (e: BlobEntry) => e.type + e.id.toString('latin1');
  const inHeader = new Map(header.map((e) => [key(e), e]));
  const out: number[] = [];
  for (let i = 0; i < indexed.length; i++) {
    const e = indexed[i];
    const h = inHeader.get(key(e));
    if (
      !h ||
      h.offset !== e.offset ||
      h.storedLength !== e.storedLength ||
      h.rawLength !== e.rawLength ||
      h.compression !== e.compression
    ) {
      out.push(i);
    }
  }
  return out;
}

export function verifyPack(
  verifier: PackVerifier,
  job: number,
  pack: string,
  bytes: Buffer,
  records: Buffer,
): VerifyPackResult {
  const indexed = decodeEntries(records, pack);
  const r: VerifyPackResult = {
    job,
    size: bytes.length,
    hashOk: packHashMatches(bytes, pack),
    mismatched: [],
    blobsChecked: 0,
    damaged: [],
  };
  let entries: BlobEntry[];
  try {
    entries = packHeaderFromBytes(bytes, verifier.key.encryption, pack);
    r.mismatched = indexMismatches(indexed, entries);
  } catch (err) {
    r.headerError = errorMessage(err);
    // Without a header the index's entries are the only map of the pack: check each blob they name.
    entries = indexed;
  }
  r.blobsChecked = entries.length;
  for (const d of verifier.verifyBlobs(pack, bytes, entries)) {
    r.damaged.push({ type: entries[d.at].type, id: idToHex(entries[d.at].id), message: d.message });
  }
  return r;
}

/** A result for a pack that could not be read. */
export function unreadable(job: number, err: unknown): VerifyPackResult {
  return { job, readError: errorMessage(err), size: 0, hashOk: true, mismatched: [], blobsChecked: 0, damaged: [] };
}
