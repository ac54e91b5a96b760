// Typed errors shared by every layer: a stable `code` for programs and tests, context for people.
// Never put secrets (passwords, keys, plaintext) into a message or a context field.

export type ErrorCode =
  | 'REPO_NOT_FOUND' // no repository at the given location
  | 'NOT_A_REPOSITORY' // the location exists but holds no repository
  | 'REPO_EXISTS' // init into a location that already holds one
  | 'WRONG_PASSWORD' // no key file opens with the password
  | 'NO_PASSWORD' // no password source was given
  | 'INTEGRITY' // stored bytes fail a hash or authentication check
  | 'FORMAT' // stored bytes decrypt but do not parse, or an unknown version
  | 'NOT_FOUND' // a file, blob, tree, snapshot or path that was asked for is missing
  | 'AMBIGUOUS' // an id prefix matches more than one object
  | 'BACKEND' // a storage operation failed (I/O, permissions, full disk)
  | 'SOURCE' // a backup source cannot be read
  | 'INVALID_ARGUMENT' // a caller passed something that cannot work
  | 'LOCKED' // a lock is held by someone else
  | 'INTERRUPTED' // the operation was aborted
  | 'COMMAND_FAILED'; // an external command (e.g. --stdin-from-command) failed

export interface ErrorContext {
  file?: string; // a repository file, e.g. "data/ab/ab12…" or a source path
  pack?: string;
  blob?: string;
  snapshot?: string;
  tree?: string;
  path?: string;
  [key: string]: string | number | undefined;
}

export class RepoError extends Error {
  readonly code: ErrorCode;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RepoError';
    this.code = code;
    this.context = context;
  }
}

/** Stored bytes fail authentication or do not match their content hash. Never returns wrong bytes. */
export class IntegrityError extends RepoError {
  constructor(message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super('INTEGRITY', message, context, options);
    this.name = 'IntegrityError';
  }
}

/** Stored bytes authenticate but their structure is not what the format says. */
export class FormatError extends RepoError {
  constructor(message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super('FORMAT', message, context, options);
    this.name = 'FormatError';
  }
}

export class NotFoundError extends RepoError {
  constructor(message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super('NOT_FOUND', message, context, options);
    this.name = 'NotFoundError';
  }
}

export class BackendError extends RepoError {
  constructor(message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super('BACKEND', message, context, options);
    this.name = 'BackendError';
  }
}

export function isRepoError(err: unknown, code?: ErrorCode): err is RepoError {
  return err instanceof RepoError && (code === undefined || err.code === code);
}

/** The text of anything thrown, for a message or a warning that names the underlying failure. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface ContextOptions {
  /** Rewords the message, given the original one (default: unchanged). */
  message?: (original: string) => string;
  /** The code for a value that is not a RepoError; without it such a value is returned as it is. */
  code?: ErrorCode;
}

/**
 * `err` with more context: a RepoError comes back as a new error of the same class and code (a BackendError
 * stays a BackendError, so callers and exit codes still see what failed), with the defined keys of `context`
 * set over its context, the message reworded by `opts.message`, and the original as `cause`. Anything else is wrapped in a RepoError with `opts.code`, or
 * returned unchanged when no code is given.
 */
export function withContext<E extends RepoError>(err: E, context: ErrorContext, opts?: ContextOptions): E;
export function withContext(err: unknown, context: ErrorContext, opts?: ContextOptions): unknown;
export function withContext(err: unknown, context: ErrorContext, opts: ContextOptions = {}): unknown {
  const reword = opts.message ?? ((m: string) => m);
  if (err instanceof RepoError) {
    // A copy on the same prototype keeps the class (and every subclass's own fields) without knowing its constructor.
    const copy = Object.create(Object.getPrototypeOf(err) as object) as RepoError;
    Object.defineProperties(copy, Object.getOwnPropertyDescriptors(err));
    const merged: ErrorContext = { ...err.context };
    for (const [k, v] of Object.entries(context)) if (v !== undefined) merged[k] = v;
    Object.defineProperty(copy, 'context', { value: merged, enumerable: true });
    Object.defineProperty(copy, 'message', { value: reword(err.message), writable: true, configurable: true });
    Object.defineProperty(copy, 'cause', { value: err, writable: true, configurable: true });
    return copy;
  }
  if (opts.code === undefined) return err;
  return new RepoError(opts.code, reword(errorMessage(err)), context, { cause: err });
}

/** The errno code ('ENOENT', 'EACCES', …) of a Node system error, or undefined. */
export function errnoCode(err: unknown): string | undefined {
  if (err !== null && typeof err === 'object' && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
