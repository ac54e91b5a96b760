// Public option, progress and result types of the restorer, plus the shared per-run context.
// Must never hold file contents or key material; it only describes what a restore does.

import type { Repository } from '../repository/repository.js';
import type { TreeNode } from '../tree/node.js';

/** Pack jobs (and files re-read by verify) in flight at once, at most. */
export const DEFAULT_CONCURRENCY = 16;

/** The metadata a restored file or directory gets. */
export type FileMeta = Pick<TreeNode, 'mode' | 'uid' | 'gid' | 'mtime' | 'atime'>;

export type OverwriteMode = 'always' | 'if-changed' | 'never';

export interface RestoreOptions {
  /** Directory to restore into (created if missing). */
  target: string;
  /** Restore the contents of this path inside the snapshot directly into target ('/'-separated, first component names a root node). */
  subPath?: Buffer | string;
  /** Paths are '/'-joined and relative to the restore root without a leading '/', e.g. "docs/a.txt". */
  include?: (path: string) => boolean;
  exclude?: (path: string) => boolean;
  /** Default 'always'. */
  overwrite?: OverwriteMode;
  /** Re-read each written file and compare every chunk's keyed hash with its blob id. */
  verify?: boolean;
  /** Walk and count, write nothing. */
  dryRun?: boolean;
  /** Pack windows being read or written at once (at most 16, and two per thread plus one), and files re-read at once by verify. */
  concurrency?: number;
  /**
   * Threads that open blobs and write files. Default: one writer per core (at most 8) with the calling
   * thread as one of them, threads started only once the plan is large enough to need them. A number:
   * exactly that many threads from the start, the calling thread writing nothing (0: it writes everything).
   */
  workers?: number;
  signal?: AbortSignal;
  /** Called at most every ~100 ms and once at the end. */
  onProgress?: (p: RestoreProgress) => void;
  onWarning?: (w: RestoreWarning) => void;
}

export interface RestoreWarning {
  path: string;
  message: string;
  cause?: unknown;
}

export interface RestoreProgress {
  filesTotal: number;
  filesDone: number;
  bytesTotal: number;
  bytesDone: number;
}

export interface RestoreResult {
  /** Regular files written (hard links made with link(2) are counted in `hardlinks`). */
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  /** FIFOs and device nodes (sockets are skipped and not counted). */
  specials: number;
  /** File content bytes written. */
  bytes: number;
  /** Files re-read and verified (only with `verify`). */
  verified?: number;
  /** Entries left alone because overwrite said so ('never', or 'if-changed' with matching size and mtime). */
  skipped: number;
  warnings: number;
  /** Entries not restored because the snapshot's trees refuse them (unsafe or duplicate names, type confusion, missing objects, too deep); each was a warning. */
  refused?: number;
  /** Entries restored with a default time because theirs was not RFC 3339 (tree/validate.ts); each was a warning. */
  defaulted?: number;
}

/** State shared by the planner and the executor during one restore. */
export interface RestoreContext {
  repo: Repository;
  opts: RestoreOptions;
  overwrite: OverwriteMode;
  /** Absolute target directory as bytes; every path we touch starts with it. */
  target: Buffer;
  isRoot: boolean;
  result: RestoreResult;
  progress: RestoreProgress;
  warn(path: Buffer | string, message: string, cause?: unknown): void;
  reportProgress(final?: boolean): void;
  checkAborted(): void;
}
