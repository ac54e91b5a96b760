// Public option, progress and result types of the restorer, plus the shared per-run context.
// Must never hold file contents or key material; it only describes what a restore does.

import { IntegrityError } from '../core/errors.js';
import type { Repository } from '../repository/repository.js';
import type { TreeNode } from '../tree/node.js';

/** The setuid and setgid bits of a mode. */
export const SETID = 0o6000;

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
  /**
   * Leave all-zero blobs as holes instead of writing zeros (default true): a sparse file comes back sparse.
   * Restored files are always new, so a hole reads back as the zeros it stands for.
   */
  sparse?: boolean;
  /**
   * Create block and character device nodes (as root; default true, as restic does). false leaves them out,
   * so a snapshot from an untrusted source cannot plant e.g. a copy of /dev/sda in the target.
   */
  devices?: boolean;
  /** Clear the setuid and setgid bits of regular files (default false: restored as stored, as restic does). */
  stripSetuid?: boolean;
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
  /** While the trees are read, before anything is written: the files and content bytes found so far. */
  onPlanning?: (files: number, bytes: number) => void;
  onWarning?: (w: RestoreWarning) => void;
}

export interface RestoreWarning {
  path: string;
  message: string;
  cause?: unknown;
  /** Set when the warning is about a file that could not be restored because its content is damaged or missing. */
  damaged?: DamagedFile;
}

/** A file left out of a restore because a blob of its content is damaged or missing in every copy. */
export interface DamagedFile {
  /** Absolute destination path (display form). */
  path: string;
  /** The path relative to the target with a leading '/', as restic names restore items. */
  item: string;
  /** The blob and the pack it was read from, when known. */
  blob?: string;
  pack?: string;
  /** The repository file the blob was read from (data/ab/ab12…), when known. */
  file?: string;
  message: string;
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
  /** Device nodes created (also counted in `specials`). */
  devices: number;
  /** Regular files written with their setuid or setgid bit (0 with `stripSetuid`). */
  setuid: number;
  /** Regular files whose setuid or setgid bit `stripSetuid` cleared. */
  stripped: number;
  /** Files (and hard-link names) the snapshot holds below the restored path. */
  filesTotal: number;
  /** Files not restored because their content is damaged (each is in RestoreDamagedError.damaged). */
  damaged: number;
  /** Entries not restored because the snapshot's trees refuse them (unsafe or duplicate names, type confusion, missing objects, too deep); each was a warning. */
  refused?: number;
  /** Entries restored with a default time because theirs was not RFC 3339 (tree/validate.ts); each was a warning. */
  defaulted?: number;
}

/** How many damaged paths the error message names; all of them are in `damaged`. */
const NAMED_IN_MESSAGE = 10;

/**
 * Thrown at the end of a restore that finished everything it could but left damaged files out:
 * the message is the summary line, `damaged` lists every path with its blob and pack.
 */
export class RestoreDamagedError extends IntegrityError {
  constructor(
    readonly result: RestoreResult,
    readonly damaged: DamagedFile[],
  ) {
    const named = damaged.slice(0, NAMED_IN_MESSAGE).map((d) => d.item);
    const more = damaged.length > named.length ? `, and ${damaged.length - named.length} more` : '';
    super(
      `restored ${result.files + result.hardlinks} of ${result.filesTotal} files; ${damaged.length} damaged: ${named.join(', ')}${more}`,
      {
        path: damaged[0]?.path,
        blob: damaged[0]?.blob,
        pack: damaged[0]?.pack,
        file: damaged[0]?.file, // the CLI's error line names it, as for any other damaged blob
      },
    );
    this.name = 'RestoreDamagedError';
  }
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
  /** Files left out because of damaged content, in the order found. */
  damaged: DamagedFile[];
  /**
   * Records `path` as damaged (and warns) if `err` is about the repository's bytes (a blob or pack that fails
   * its checks or is missing); returns undefined for any other error, which the caller rethrows.
   */
  damage(path: Buffer, err: unknown): DamagedFile | undefined;
  reportProgress(final?: boolean): void;
  checkAborted(): void;
}
