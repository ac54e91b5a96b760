// What check reports and what its phases share: the kinds of problems and notes, the options, and the context
// that the structure check, the data reader (check-data.ts) and the graph walk (check-graph.ts) fill in.

import { idToHex } from '../core/id.js';
import { ENTRY_SIZE, entryStoredLength, type BlobEntry } from '../repository/blob.js';
import type { MasterIndex } from '../repository/master-index.js';
import { packLength } from '../repository/pack-reader.js';
import type { Repository } from '../repository/repository.js';
import type { DataSubset } from './subset.js';
import { decodeEntries } from './verify-pack.js';

export type ProblemKind =
  | 'key'
  | 'index'
  | 'pack-missing'
  | 'pack-size'
  | 'pack-header'
  | 'pack-hash'
  | 'blob'
  | 'index-mismatch'
  | 'snapshot'
  | 'tree'
  | 'blob-missing'
  | 'node' // a node every reader refuses or reads with defaults (tree/validate.ts)
  | 'bounds' // a tree or snapshot beyond MAX_TREE_ENTRIES, MAX_DEPTH or MAX_EXPANSION
  | 'audit'
  | 'wal' // the archived PostgreSQL WAL has a gap after a base backup (joined by the CLI, cli/check-wal.ts)
  | 'object-lock'; // a file's Object Lock ends before that of a snapshot that needs it (object-lock.ts)

export interface CheckProblem {
  kind: ProblemKind;
  message: string;
  file?: string;
  pack?: string;
  blob?: string;
  snapshot?: string;
  tree?: string;
  path?: string;
}

export interface CheckNote {
  kind: 'unreferenced-pack' | 'duplicate-blob' | 'superseded-index' | 'stale-lock' | 'unknown-file' | 'audit' | 'wal';
  message: string;
  file?: string;
}

export interface AffectedPath {
  snapshot: string;
  path: string;
  blob: string;
}

/** A phase of a check with its packs done and total, and for reading data the bytes read and to read. */
export interface CheckProgress {
  phase: string;
  done: number;
  total: number;
  bytes?: number;
  bytesTotal?: number;
}

export interface CheckOptions {
  readData?: boolean;
  subset?: DataSubset;
  concurrency?: number;
  /** Threads that verify packs read with readData (default one per core, at most 8; 0 verifies on this thread). */
  workers?: number;
  signal?: AbortSignal;
  onProgress?: (p: CheckProgress) => void;
}

/** Everything check learns, shared with the data reader and the path mapper. */
export interface CheckContext {
  repo: Repository;
  index: MasterIndex;
  /**
   * Each pack's entries as the index files list them, as 48-byte records (verify-pack.ts writeEntries);
   * indexedEntries() decodes them. Records rather than objects: a whole repository's entries held as objects
   * took 13 MiB of the heap for the kernel tree's 83,000 blobs, for the length of the check.
   */
  packRecords: Map<string, Buffer>;
  packSizes: Map<string, number>; // as storage lists them
  problems: CheckProblem[];
  notes: CheckNote[];
  /** Locations found damaged or missing: "pack:type:id". */
  badLocations: Set<string>;
  opts: CheckOptions;
}

/** The key of a blob's location in badLocations. */
export function locKey(pack: string, e: Pick<BlobEntry, 'type' | 'id'>): string {
  return `${pack}:${e.type}:${idToHex(e.id)}`;
}

/** The index's entries for `pack` (none if the index does not name it). */
export function indexedEntries(ctx: CheckContext, pack: string): BlobEntry[] {
  const records = ctx.packRecords.get(pack);
  return records === undefined ? [] : decodeEntries(records, pack);
}

/** How many entries the index lists for `pack`. */
export function indexedCount(ctx: CheckContext, pack: string): number {
  return (ctx.packRecords.get(pack)?.length ?? 0) / ENTRY_SIZE;
}

/** The length the index implies for `pack` (pack-reader.ts expectedPackLength), without decoding its entries. */
export function indexedPackLength(ctx: CheckContext, pack: string): number {
  const records = ctx.packRecords.get(pack) ?? Buffer.alloc(0);
  let stored = 0;
  for (let at = 0; at < records.length; at += ENTRY_SIZE) stored += entryStoredLength(records, at);
  return packLength(stored, records.length / ENTRY_SIZE);
}
