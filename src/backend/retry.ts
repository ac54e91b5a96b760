// RetryBackend: wraps any Backend and repeats calls that failed transiently, with capped exponential
// backoff and full jitter. Must never retry a permanent error (NOT_FOUND, REPO_EXISTS, INVALID_ARGUMENT,
// INTERRUPTED, plain BACKEND) and never keep going once its abort signal fires.

import { BackendError, RepoError } from '../core/errors.js';
import {
  type Backend,
  type FileInfo,
  type FileType,
  type Handle,
  TransientBackendError,
  handleToPath,
  isNotFound,
  isTransient,
  validateFileType,
  type SaveData,
} from './backend.js';
import { WrappingBackend } from './stack.js';

/** What onRetry is told before each backoff sleep. */
export interface RetryInfo {
  /** Backend method (or name given to run()), e.g. 'save'. */
  op: string;
  /** Layout path or file type the call was about, if any. */
  file?: string;
  /** The attempt that just failed, 1-based. */
  attempt: number;
  /** Most attempts this call will make. */
  maxAttempts: number;
  /** How long the wrapper sleeps before the next attempt. */
  delayMs: number;
  /** The transient error of the failed attempt. */
  error: unknown;
}

export interface RetryOptions {
  /** Most attempts per call, counting the first; default 6. 1 disables retrying. */
  attempts?: number;
  /** Backoff base in ms: the n-th retry waits a random time in [0, min(maxDelayMs, base·2^(n-1))); default 200. */
  baseDelayMs?: number;
  /** Cap of a single backoff in ms; default 10 000. */
  maxDelayMs?: number;
  /** Called before each backoff sleep; errors it throws are ignored. */
  onRetry?: (info: RetryInfo) => void;
  /** Backend-wide abort signal, combined with each call's own (the only one for stat/exists/remove/create). */
  signal?: AbortSignal;
  /** Decides which errors are retried; default isTransient from backend.ts. */
  isTransient?: (err: unknown) => boolean;
  /** Source of randomness in [0, 1) for jitter; default Math.random (tests inject their own). */
  random?: () => number;
}

export const DEFAULT_RETRY_ATTEMPTS = 6;
export const DEFAULT_RETRY_BASE_DELAY_MS = 200;
export const DEFAULT_RETRY_MAX_DELAY_MS = 10_000;

function interrupted(file: string | undefined, reason: unknown): RepoError {
  return new RepoError('INTERRUPTED', 'operation aborted', file === undefined ? {} : { file }, { cause: reason });
}

function firstAborted(signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  return signals.find((s) => s?.aborted);
}

/** Sleeps ms, or rejects with RepoError('INTERRUPTED') as soon as any signal aborts. */
function sleep(ms: number, signals: (AbortSignal | undefined)[], file: string | undefined): Promise<void> {
  const live = signals.filter((s): s is AbortSignal => s !== undefined);
  const already = firstAborted(live);
  if (already !== undefined) return Promise.reject(interrupted(file, already.reason));
  return new Promise<void>((resolve, reject) => {
    const onAbort = (ev: Event): void => {
      clearTimeout(timer);
      for (const s of live) s.removeEventListener('abort', onAbort);
      reject(interrupted(file, (ev.target as AbortSignal | null)?.reason));
    };
    const timer = setTimeout(() => {
      for (const s of live) s.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    for (const s of live) s.addEventListener('abort', onAbort, { once: true });
  });
}

/** The per-call signal combined with the backend-wide one (either may be absent). */
function combine(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return AbortSignal.any([a, b]);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A Backend that forwards every call to `inner` and repeats the calls that failed with a transient
 * error (see isTransient), up to `attempts` times, sleeping a full-jitter exponential backoff in
 * between. When it gives up, it throws a permanent BackendError ("… (gave up after N attempts)")
 * whose cause is the last transient error. Aborting (per-call or backend-wide signal) ends the call
 * with RepoError('INTERRUPTED') before the next attempt or during the sleep.
 *
 * list() restarts a failed listing and skips names already yielded, so each file is still yielded
 * once. remove() treats NOT_FOUND after an attempt that may have deleted the file as success.
 */
export class RetryBackend extends WrappingBackend {
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly onRetry: ((info: RetryInfo) => void) | undefined;
  private readonly signal: AbortSignal | undefined;
  private readonly transient: (err: unknown) => boolean;
  private readonly random: () => number;

  constructor(inner: Backend, opts: RetryOptions = {}) {
    super(inner);
    const attempts = opts.attempts ?? DEFAULT_RETRY_ATTEMPTS;
    const base = opts.baseDelayMs ?? DEFAULT_RETRY_BASE_DELAY_MS;
    const max = opts.maxDelayMs ?? DEFAULT_RETRY_MAX_DELAY_MS;
    if (!Number.isSafeInteger(attempts) || attempts < 1) {
      throw new RepoError('INVALID_ARGUMENT', 'retry attempts must be an integer of at least 1');
    }
    if (!(base >= 0) || !(max >= 0) || !Number.isFinite(base) || !Number.isFinite(max)) {
      throw new RepoError('INVALID_ARGUMENT', 'retry delays must be finite non-negative numbers');
    }
    this.attempts = attempts;
    this.baseDelayMs = base;
    this.maxDelayMs = max;
    this.onRetry = opts.onRetry;
    this.signal = opts.signal;
    this.transient = opts.isTransient ?? isTransient;
    this.random = opts.random ?? Math.random;
  }

  /** The backoff before retry number `retry` (1-based): uniform in [0, min(max, base·2^(retry-1))). */
  backoffMs(retry: number): number {
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(retry - 1, 52));
    return Math.floor(this.random() * ceiling);
  }

  /**
   * Runs fn under this wrapper's retry policy: the building block of every method, public so that
   * backend-specific calls (e.g. S3Backend.checkRepository) can be retried the same way.
   */
  async run<T>(op: string, file: string | undefined, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const signals = [signal, this.signal];
    for (let attempt = 1; ; attempt++) {
      const aborted = firstAborted(signals);
      if (aborted !== undefined) throw interrupted(file, aborted.reason);
      try {
        return await fn();
      } catch (err) {
        if (!this.transient(err)) throw err;
        if (attempt >= this.attempts) throw this.giveUp(err, attempt, file);
        await this.pause(op, file, attempt, err, signals);
      }
    }
  }

  private giveUp(err: unknown, attempts: number, file: string | undefined): RepoError {
    if (attempts <= 1)
      return err instanceof RepoError
        ? err
        : new BackendError(describe(err), file === undefined ? {} : { file }, { cause: err });
    const context = err instanceof RepoError ? { ...err.context } : file === undefined ? {} : { file };
    return new BackendError(
      `${describe(err)} (gave up after ${attempts} attempts)`,
      { ...context, attempts },
      { cause: err },
    );
  }

  private async pause(
    op: string,
    file: string | undefined,
    attempt: number,
    err: unknown,
    signals: (AbortSignal | undefined)[],
  ): Promise<void> {
    const delayMs = this.backoffMs(attempt);
    if (this.onRetry !== undefined) {
      try {
        this.onRetry({ op, file, attempt, maxAttempts: this.attempts, delayMs, error: err });
      } catch {
        // A reporting callback must not change the outcome.
      }
    }
    await sleep(delayMs, signals, file);
  }

  override async create(): Promise<void> {
    return this.run('create', undefined, () => this.inner.create());
  }

  override async save(h: Handle, data: SaveData, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const file = handleToPath(h);
    const signal = combine(opts.signal, this.signal);
    return this.run('save', file, () => this.inner.save(h, data, { signal }), opts.signal);
  }

  override async load(
    h: Handle,
    opts: { offset?: number; length?: number; signal?: AbortSignal } = {},
  ): Promise<Buffer> {
    const file = handleToPath(h);
    const inner = { ...opts, signal: combine(opts.signal, this.signal) };
    return this.run('load', file, () => this.inner.load(h, inner), opts.signal);
  }

  override async stat(h: Handle): Promise<FileInfo> {
    return this.run('stat', handleToPath(h), () => this.inner.stat(h));
  }

  override async exists(h: Handle): Promise<boolean> {
    return this.run('exists', handleToPath(h), () => this.inner.exists(h));
  }

  override async remove(h: Handle): Promise<void> {
    const file = handleToPath(h);
    let mayBeGone = false;
    await this.run('remove', file, async () => {
      try {
        await this.inner.remove(h);
      } catch (err) {
        // An earlier attempt may have deleted the file before its reply was lost.
        if (mayBeGone && isNotFound(err)) return;
        if (err instanceof TransientBackendError && err.mayHaveSucceeded) mayBeGone = true;
        throw err;
      }
    });
  }

  override async *list(type: FileType, opts: { signal?: AbortSignal } = {}): AsyncIterable<FileInfo> {
    validateFileType(type);
    const signals = [opts.signal, this.signal];
    const signal = combine(opts.signal, this.signal);
    const seen = new Set<string>();
    let failures = 0;
    for (;;) {
      const aborted = firstAborted(signals);
      if (aborted !== undefined) throw interrupted(type, aborted.reason);
      let progressed = false;
      try {
        for await (const info of this.inner.list(type, { signal })) {
          if (seen.has(info.name)) continue;
          seen.add(info.name);
          progressed = true;
          yield info;
        }
        return;
      } catch (err) {
        if (!this.transient(err)) throw err;
        // A pass that yielded something new resets the count, so long listings survive sporadic failures.
        failures = progressed ? 1 : failures + 1;
        if (failures >= this.attempts) throw this.giveUp(err, failures, type);
        await this.pause('list', type, failures, err, signals);
      }
    }
  }
}
