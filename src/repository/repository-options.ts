// What opening or creating a Repository takes (chunker, compression, pack size, KDF, workers, dry run) and
// what its writes report back (a saved blob, a small file read and saved whole, the counters of one handle).

import type { ObjectLockPolicy } from '../backend/object-lock.js';
import type { ChunkerParams } from '../chunker/chunker.js';
import type { LaneThreads, ScryptParams } from '../crypto/kdf.js';
import type { FileReply } from './file-batch.js';

export type SmallFileResult =
  | { status: 'ok'; size: number; sizeAfter: number; mtimeNs: bigint; ids: Buffer[]; newBlobs: number }
  | Exclude<FileReply, { status: 'ok' }>; // the worker's own answer when it could not read the file

export interface InitOptions {
  /** Repository format (default FORMAT_VERSION, 2); 1 for readers that know only format 1. */
  format?: 1 | 2;
  /** Sizes (and, for format 2 with --copy-chunker-params, the secret to share); format decides the algorithm. */
  chunker?: ChunkerParams;
  compression?: string;
  packSize?: number;
  /** KDF parameters for the first key; by default calibrated to ~0.5 s. Cheap values are for tests only. */
  kdf?: ScryptParams;
  now?: Date;
  workers?: number;
  /** S3 Object Lock: every file but locks and index written locked (recorded in the config, spec §5). */
  objectLock?: ObjectLockPolicy;
}

export interface OpenOptions {
  /** Overrides the config's compression for blobs written through this handle. */
  compression?: string;
  maxConcurrentUploads?: number;
  /** Worker threads that compress and seal new blobs (default: one per core; 0 = on the calling thread). */
  workers?: number;
  /** Compute, compress and seal new blobs as usual, but store nothing (backup --dry-run). */
  dryRun?: boolean;
  /**
   * Threads that derive the key from the password (its scrypt lanes): default up to two. A caller whose own
   * thread has work meanwhile (backup lists its sources then) says so with `callerBusy`, and gets one.
   */
  kdfThreads?: LaneThreads;
  /** Skip loading the index (check and repair read index files themselves, one by one, to report damage). */
  skipIndex?: boolean;
  /**
   * Told about damage that was worked around (a damaged key file that still opens, skipped index or snapshot
   * files); default: process.emitWarning.
   */
  onWarning?: (message: string) => void;
}

export interface SaveBlobResult {
  id: Buffer;
  /** True when the repository already had the blob and nothing was stored. */
  known: boolean;
  storedLength: number;
}

export interface WriteStats {
  blobsAdded: number;
  rawBytesAdded: number;
  storedBytesAdded: number;
  packsWritten: number;
  indexFilesWritten: number;
}
