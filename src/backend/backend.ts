// The storage interface every repository backend implements, plus handle validation and shared helpers.
// Must never interpret file contents (no crypto, no parsing) and never let a handle name escape the layout.

import { BackendError, type ErrorContext, NotFoundError, RepoError, isRepoError } from '../core/errors.js';
import { isIdHex } from '../core/id.js';

/** The kinds of files a repository holds; each maps to one place in the layout (`audit`: the audit log, spec §14). */
export type FileType = 'config' | 'keys' | 'data' | 'index' | 'snapshots' | 'locks' | 'audit';

/** Every file type, in layout order. */
export const FILE_TYPES: readonly FileType[] = ['config', 'keys', 'data', 'index', 'snapshots', 'locks', 'audit'];

/**
 * Names one stored file. `name` is 64 lowercase hex characters for every type except
 * `config`, whose only valid name is `'config'`. Anything else is rejected with
 * RepoError('INVALID_ARGUMENT') before any storage is touched.
 */
export interface Handle {
  type: FileType;
  name: string;
}

/** Options of Backend.save. */
export interface SaveOptions {
  signal?: AbortSignal;
  /** Hint: this `data` file is a tree pack (metadata a local cache should keep). Backends may ignore it. */
  metadata?: boolean;
}

/** A stored file's name (as in its Handle) and its size in bytes. */
export interface FileInfo {
  name: string;
  size: number;
}

/**
 * A file being stored piece by piece (Backend.beginUpload): nothing is visible under any name until commit(),
 * and a process killed before it leaves at most a temporary file that cleanup removes.
 */
export interface Upload {
  /** Appends bytes. The upload does not keep `part` after the promise settles, so the caller may reuse it. */
  write(part: Uint8Array): Promise<void>;
  /** Makes what was written durable and visible as `h` (of the type the upload was begun for), atomically. */
  commit(h: Handle): Promise<void>;
  /** Discards what was written. Never throws. */
  abort(): Promise<void>;
}

/**
 * A place that stores repository files. Implementations never look inside the bytes.
 *
 * Contract shared by all implementations:
 * - Every method validates its handle first (see Handle); invalid handles throw
 *   RepoError('INVALID_ARGUMENT').
 * - A missing file is reported as NotFoundError (code 'NOT_FOUND') with the relative
 *   layout path in `context.file`; other storage failures are BackendError (code 'BACKEND').
 * - A signal that is already aborted makes the call throw RepoError('INTERRUPTED') before
 *   anything is done; a signal aborted during the call may also end it with 'INTERRUPTED',
 *   and then no partial result is visible.
 * - Error messages and `location` never contain credentials.
 */
export interface Backend {
  /** Human-readable location of the repository (e.g. a path); never contains credentials. */
  readonly location: string;

  /** Creates the layout; throws RepoError('REPO_EXISTS') if a config already exists. Does not write the config. */
  create(): Promise<void>;

  /**
   * Stores data atomically under h. Saving an existing handle with identical content is allowed
   * (it overwrites); readers never see partial content: a file is either absent or complete.
   * The caller keeps ownership of `data`; the backend never retains or mutates it.
   * `metadata` is a hint that a `data` file is a tree pack, which a local cache (CacheBackend) keeps a
   * copy of; every other backend ignores it.
   */
  save(h: Handle, data: SaveData, opts?: SaveOptions): Promise<void>;

  /**
   * Optional: starts storing a file of `type` whose name is known only at the end (a pack, named by the hash
   * of its bytes), so the writer need not hold it in memory. Only a backend that stores files itself offers
   * it; a wrapper does not inherit it, so writers fall back to save() through every wrapper's own rules.
   */
  beginUpload?(type: FileType, opts?: { signal?: AbortSignal }): Promise<Upload>;

  /**
   * Returns the whole file, or the range [offset, offset+length) when offset and/or length are
   * given (offset defaults to 0, length to "up to the end"). A range that reaches past the end of
   * the file is a permanent BackendError, never partial data; offset == size with length 0 (or no
   * length) is an empty Buffer. Negative or non-integer offset/length → RepoError('INVALID_ARGUMENT').
   * NotFoundError if absent. The returned Buffer is owned by the caller.
   */
  load(h: Handle, opts?: { offset?: number; length?: number; signal?: AbortSignal }): Promise<Buffer>;

  /** Size of the stored file. NotFoundError if absent. */
  stat(h: Handle): Promise<FileInfo>;

  /** Whether the file is stored. Never throws NotFoundError. */
  exists(h: Handle): Promise<boolean>;

  /**
   * All files of a type, each once (names as in Handle, so `data` files are listed by id, not by
   * sub-directory). Temporary files and any other name that is not a valid handle name are ignored.
   * Order unspecified. For `config`, yields the config if it exists.
   */
  list(type: FileType, opts?: { signal?: AbortSignal }): AsyncIterable<FileInfo>;

  /** Deletes the file. NotFoundError if absent. */
  remove(h: Handle): Promise<void>;

  /** Releases resources. Idempotent. */
  close(): Promise<void>;

  /**
   * Optional capability: Object Lock (object-lock.ts), offered only by a store that can make objects immutable.
   * Wrappers forward it (stack.ts), so maintenance asks the outermost layer and never looks for a store class.
   */
  retention?(): ObjectRetention | undefined;
}

/** True for a NotFoundError (or any RepoError with code 'NOT_FOUND'). */
export function isNotFound(err: unknown): boolean {
  return isRepoError(err, 'NOT_FOUND');
}

/** exists() of a backend through its stat(): true, false when stat finds nothing, or stat's error as it is. */
export async function existsByStat(stat: () => Promise<unknown>): Promise<boolean> {
  try {
    await stat();
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Whether `name` is a valid handle name for `type`. */
export function isValidName(type: FileType, name: string): boolean {
  return type === 'config' ? name === 'config' : isIdHex(name);
}

/** Throws RepoError('INVALID_ARGUMENT') unless h is a well-formed handle. */
export function validateHandle(h: Handle): void {
  if (h === null || typeof h !== 'object') {
    throw new RepoError('INVALID_ARGUMENT', 'invalid handle: not an object');
  }
  if (!FILE_TYPES.includes(h.type)) {
    throw new RepoError('INVALID_ARGUMENT', `invalid file type ${JSON.stringify(String(h.type).slice(0, 40))}`);
  }
  if (typeof h.name !== 'string' || !isValidName(h.type, h.name)) {
    const shown = typeof h.name === 'string' ? JSON.stringify(h.name.slice(0, 80)) : typeof h.name;
    const want = h.type === 'config' ? "'config'" : '64 lowercase hex characters';
    throw new RepoError('INVALID_ARGUMENT', `invalid ${h.type} file name ${shown}: must be ${want}`, {
      type: h.type,
    });
  }
}

/** Throws RepoError('INVALID_ARGUMENT') unless `type` is a known file type. */
export function validateFileType(type: FileType): void {
  if (!FILE_TYPES.includes(type)) {
    throw new RepoError('INVALID_ARGUMENT', `invalid file type ${JSON.stringify(String(type).slice(0, 40))}`);
  }
}

/**
 * The relative, '/'-separated path of h in the layout: `config`, `keys/<id>`,
 * `data/<id[0:2]>/<id>`, `index/<id>`, `snapshots/<id>`, `locks/<id>`, `audit/<id>`. Validates h first.
 */
export function handleToPath(h: Handle): string {
  validateHandle(h);
  switch (h.type) {
    case 'config':
      return 'config';
    case 'data':
      return `data/${h.name.slice(0, 2)}/${h.name}`;
    default:
      return `${h.type}/${h.name}`;
  }
}

/** Throws RepoError('INTERRUPTED') if the signal is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, file?: string): void {
  if (signal?.aborted) {
    throw new RepoError('INTERRUPTED', 'operation aborted', file === undefined ? {} : { file }, {
      cause: signal.reason,
    });
  }
}

/** Throws RepoError('INVALID_ARGUMENT') unless offset and length are absent or non-negative safe integers. */
export function validateRangeArgs(offset: number | undefined, length: number | undefined, file: string): void {
  if (offset !== undefined && (!Number.isSafeInteger(offset) || offset < 0)) {
    throw new RepoError('INVALID_ARGUMENT', `invalid offset ${String(offset)} for ${file}`, { file });
  }
  if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) {
    throw new RepoError('INVALID_ARGUMENT', `invalid length ${String(length)} for ${file}`, { file });
  }
}

/**
 * Resolves a load range against a file size. Returns [start, end) or throws:
 * INVALID_ARGUMENT for malformed numbers, BackendError when the range reaches past the end.
 */
export function resolveRange(
  size: number,
  offset: number | undefined,
  length: number | undefined,
  file: string,
): [number, number] {
  validateRangeArgs(offset, length, file);
  const start = offset ?? 0;
  const end = length === undefined ? Math.max(start, size) : start + length;
  if (start > size || end > size) {
    throw new BackendError(
      `range [${start}, ${end}) is beyond the end of ${file} (size ${size})`,
      // reason 'short': the stored file is shorter than the caller expected (a truncated file is damage, not an outage)
      { file, offset: start, length: end - start, size, reason: 'short' },
    );
  }
  return [start, end];
}

/**
 * A storage failure that may succeed when the same call is repeated: throttling (503 SlowDown, 429),
 * server errors (5xx), timeouts and dropped or refused connections. Its code stays 'BACKEND'; only
 * a retrying wrapper (RetryBackend) treats it differently from any other BackendError.
 */
export class TransientBackendError extends BackendError {
  /**
   * True when the failed request may nevertheless have been carried out by the server (e.g. a
   * DELETE whose reply was lost), so that a repetition can legitimately find its work already done.
   */
  readonly mayHaveSucceeded: boolean;

  constructor(message: string, context: ErrorContext = {}, options?: { cause?: unknown; mayHaveSucceeded?: boolean }) {
    super(message, context, options === undefined ? undefined : { cause: options.cause });
    this.name = 'TransientBackendError';
    this.mayHaveSucceeded = options?.mayHaveSucceeded ?? false;
  }
}

/** Node/undici error codes of network failures that are worth retrying. */
const TRANSIENT_NET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'EAI_AGAIN',
  'ENOTCONN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/**
 * Whether a raw (non-RepoError) error from a network library is a transient network failure:
 * a connection reset, refused, broken pipe, timed out, "socket hang up", or a TimeoutError.
 * Looks through `cause` chains. Never true for an abort.
 */
export function isTransientNetworkError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth++) {
    const o = e as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown };
    if (o.name === 'AbortError') return false;
    if (typeof o.code === 'string' && TRANSIENT_NET_CODES.has(o.code)) return true;
    if (o.name === 'TimeoutError') return true;
    if (typeof o.message === 'string' && /socket hang up|ECONNRESET|EPIPE|ETIMEDOUT|ECONNREFUSED/.test(o.message)) {
      return true;
    }
    e = o.cause;
  }
  return false;
}

/**
 * Whether repeating the failed call may succeed: true for a TransientBackendError, false for every
 * other RepoError (NOT_FOUND, REPO_EXISTS, INVALID_ARGUMENT, INTERRUPTED, a plain BackendError …),
 * and for anything else (which a Backend should not throw) whatever isTransientNetworkError says.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof TransientBackendError) return true;
  if (err instanceof RepoError) return false;
  return isTransientNetworkError(err);
}

/** A NotFoundError for a relative layout path. */
export function notFound(file: string, options?: { cause?: unknown }): NotFoundError {
  return new NotFoundError(`${file} not found`, { file }, options);
}

/**
 * What save() stores: one buffer, or parts stored back to back (so a pack need not be copied into
 * one buffer before it is written).
 */
export type SaveData = Uint8Array | readonly Uint8Array[];

export function saveDataParts(d: SaveData): readonly Uint8Array[] {
  return d instanceof Uint8Array ? [d] : d;
}

export function saveDataLength(d: SaveData): number {
  return saveDataParts(d).reduce((n, p) => n + p.byteLength, 0);
}

/** One contiguous copy, for backends that need a single buffer. */
export function concatSaveData(d: SaveData): Buffer {
  if (d instanceof Uint8Array) return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  return Buffer.concat(d);
}

// Object Lock (helpers and the S3 implementation: object-lock.ts, s3-object-lock.ts).

/** S3's two Object Lock modes: governance can be lifted by a user with a bypass permission, compliance by nobody. */
export type ObjectLockMode = 'compliance' | 'governance';

/** How new objects are written: locked in `mode` for at least `days` days (recorded in the repository config). */
export interface ObjectLockPolicy {
  mode: ObjectLockMode;
  days: number;
}

/** The lock an object carries: no one can delete or overwrite its version before `until`. */
export interface Retention {
  mode: ObjectLockMode;
  until: Date;
}

/**
 * What a store with Object Lock offers. Reading a retention is one request per object; extending one is another.
 * The store never shortens a lock (S3 refuses that in compliance mode anyway).
 */
export interface ObjectRetention {
  /** From now on, objects of every locked type (isLockedType) are written with `policy`; undefined writes them unlocked. */
  setWritePolicy(policy: ObjectLockPolicy | undefined): void;
  readonly writePolicy: ObjectLockPolicy | undefined;
  /**
   * Throws BackendError unless the bucket has Object Lock enabled and no default retention rule (a default rule
   * would lock lock files too, which every command must be able to delete).
   */
  checkLockEnabled(): Promise<void>;
  /** The lock the stored object carries, or undefined if it carries none (or it has expired). NotFoundError if absent. */
  retention(h: Handle): Promise<Retention | undefined>;
  /**
   * Makes the object's lock last at least until `until` (in the object's own mode, or the write policy's for an
   * unlocked object). Does nothing when it already does; returns whether a request changed the lock.
   */
  extendRetention(h: Handle, until: Date): Promise<boolean>;
}
