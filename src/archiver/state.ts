// Shared state of one backup run and the small helpers every part of the walk uses.
// Holds no file system logic of its own.

import type { StatPrefetch } from './stat-prefetch.js';
import type { Chunker } from '../chunker/chunker.js';
import type { Semaphore } from '../core/concurrency.js';
import { RepoError } from '../core/errors.js';
import type { Repository } from '../repository/repository.js';
import type { Snapshot, SnapshotSummary } from '../snapshot/snapshot.js';
import type { PathMatcher, ExcludeRule } from './exclude.js';
import type { OwnerNames } from './metadata.js';
import type { BackupProgress, ProgressTracker } from './progress.js';
import type { DirCache } from './dir-cache.js';

export type ArchiverRepo = Pick<
  Repository,
  | 'saveBlob'
  | 'saveSmallFile'
  | 'sealsFiles'
  | 'blobId'
  | 'hasBlob'
  | 'loadBlob'
  | 'flush'
  | 'chunker'
  | 'stats'
  | 'saveUnpacked'
  | 'loadUnpacked'
  | 'listNames'
>;

export interface SourceWarning {
  path: string;
  message: string;
  /** true when the file or directory could not be backed up at all (the CLI exits 3). */
  skipped: boolean;
}

export interface BackupOptions {
  tags?: string[];
  host?: string;
  /** Snapshot time; default now. */
  time?: Date;
  excludes?: ExcludeRule[];
  /** Directories holding a file of this name ("FILE[:HEADER]") keep only that file (--exclude-if-present, --exclude-caches). */
  excludeIfPresent?: string[];
  /** Files (anything but directories) larger than this many bytes are left out (--exclude-larger-than). */
  excludeLargerThan?: number;
  oneFileSystem?: boolean;
  /** The snapshot to compare against; unchanged files reuse its content without being read. */
  parent?: Snapshot & { id: string };
  /** Re-read every file even when its metadata matches the parent's. */
  force?: boolean;
  /** Do not compare inode numbers (file systems without stable inodes, e.g. some network mounts). */
  ignoreInode?: boolean;
  /** Do not compare ctime (e.g. after a chmod -R or when restoring into a fresh copy). */
  ignoreCtime?: boolean;
  /** Read and chunk everything, store nothing, save no snapshot. */
  dryRun?: boolean;
  /** Files read at once. */
  concurrency?: number;
  /**
   * A folder for the directory cache (dir-cache.ts): with a parent snapshot whose backup left a record
   * there, unchanged directories keep their tree ids without the parent's trees being loaded. Not used
   * with force, ignoreCtime or ignoreInode, whose comparisons it cannot reproduce.
   */
  dirCacheDir?: string;
  /**
   * Directories listed and stat'ed ahead, while the repository was opened (stat-prefetch.ts): the walk
   * takes each fresh listing instead of making the same system calls. Stopped when the walk starts.
   */
  prefetch?: StatPrefetch;
  signal?: AbortSignal;
  /** Fields added to the snapshot's summary once every byte is stored (e.g. a base backup's stop LSN). */
  summaryExtra?: () => Promise<Record<string, string>>;
  onProgress?: (p: BackupProgress) => void;
  onWarning?: (w: SourceWarning) => void;
  /** Each file or directory stored as new or changed, and each entry of the parent gone from a directory (restic's -vv list). */
  onItem?: (item: BackupItem) => void;
}

/** What a backup did with one entry, compared with the parent snapshot. */
export interface BackupItem {
  action: 'new' | 'modified' | 'removed';
  /** Absolute path; a directory's ends with "/", as restic writes it. */
  path: string;
  type: 'file' | 'dir' | 'other';
  /** A file's content bytes. */
  size?: number;
  /** Seconds spent reading a file. */
  seconds?: number;
}

export interface WalkState {
  repo: ArchiverRepo;
  chunker: Chunker;
  excluded: PathMatcher;
  owners: OwnerNames;
  files: Semaphore;
  largeFiles: Semaphore;
  /** Small files being read and sealed whole on worker threads. */
  smallFiles: Semaphore;
  progress: ProgressTracker;
  warnings: SourceWarning[];
  opts: BackupOptions;
  hardlinks: Map<string, Promise<{ content: string[]; size: number }>>;
  summary: SnapshotSummary;
  /** The directory cache, when this backup uses one (see BackupOptions.dirCacheDir). */
  dirCache?: DirCache;
}

export function warn(state: WalkState, abs: Buffer, message: string, skipped: boolean): void {
  const w = { path: abs.toString('utf8'), message, skipped };
  state.warnings.push(w);
  if (skipped) state.progress.error();
  state.opts.onWarning?.(w);
}

export function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw new RepoError('INTERRUPTED', 'backup interrupted; no snapshot was saved');
}

export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ELOOP':
      return 'is a symbolic link';
    case 'EIO':
      return 'input/output error';
    default:
      return e?.message ?? String(err);
  }
}

export function emptySummary(): SnapshotSummary {
  return {
    backup_start: '',
    backup_end: '',
    files_new: 0,
    files_changed: 0,
    files_unmodified: 0,
    dirs_new: 0,
    dirs_changed: 0,
    dirs_unmodified: 0,
    data_blobs: 0,
    tree_blobs: 0,
    data_added: 0,
    data_added_packed: 0,
    total_files_processed: 0,
    total_bytes_processed: 0,
  };
}
