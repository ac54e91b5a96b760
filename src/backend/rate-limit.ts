// RateLimitedBackend: --limit-upload / --limit-download for remote backends. Bytes are metered per file: a
// save waits until the upload budget covers its size, a load hands its bytes back once the download budget
// covers them, so the average rate over any stretch longer than one file stays at the limit.
// Must never drop or alter data, and never sleep past an abort of the call's signal.

import { RepoError } from '../core/errors.js';
import { type Backend, type Handle, type SaveData, type SaveOptions, handleToPath, saveDataLength } from './backend.js';
import { WrappingBackend } from './stack.js';

/** A token bucket in bytes that may go into debt: each take() sleeps until the debt it leaves is paid off. */
export class ByteBudget {
  private available: number;
  private last: number;

  /** `bytesPerSecond` > 0; the bucket holds at most one second of budget (the burst). */
  constructor(
    readonly bytesPerSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(bytesPerSecond > 0) || !Number.isFinite(bytesPerSecond)) {
      throw new RepoError('INVALID_ARGUMENT', 'a bandwidth limit must be a positive number');
    }
    this.available = bytesPerSecond;
    this.last = now();
  }

  /** Spends n bytes and returns how long (ms) the caller must wait before they count as sent. */
  take(n: number): number {
    const t = this.now();
    this.available = Math.min(this.bytesPerSecond, this.available + ((t - this.last) / 1000) * this.bytesPerSecond);
    this.last = t;
    this.available -= n;
    return this.available >= 0 ? 0 : (-this.available / this.bytesPerSecond) * 1000;
  }
}

function wait(ms: number, signal: AbortSignal | undefined, file: string): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new RepoError('INTERRUPTED', 'operation aborted', { file }, { cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RateLimits {
  /** KiB/s of file contents sent; 0: unlimited. */
  uploadKiBps: number;
  /** KiB/s of file contents received; 0: unlimited. */
  downloadKiBps: number;
}

export class RateLimitedBackend extends WrappingBackend {
  private readonly up: ByteBudget | undefined;
  private readonly down: ByteBudget | undefined;

  constructor(inner: Backend, limits: RateLimits) {
    super(inner);
    for (const [name, v] of [
      ['upload', limits.uploadKiBps],
      ['download', limits.downloadKiBps],
    ] as const) {
      if (!Number.isFinite(v) || v < 0)
        throw new RepoError('INVALID_ARGUMENT', `the ${name} limit must be a non-negative number of KiB/s`);
    }
    this.up = limits.uploadKiBps > 0 ? new ByteBudget(limits.uploadKiBps * 1024) : undefined;
    this.down = limits.downloadKiBps > 0 ? new ByteBudget(limits.downloadKiBps * 1024) : undefined;
  }

  override async save(h: Handle, data: SaveData, opts?: SaveOptions): Promise<void> {
    if (this.up !== undefined) await wait(this.up.take(saveDataLength(data)), opts?.signal, handleToPath(h));
    return this.inner.save(h, data, opts);
  }

  override async load(h: Handle, opts?: { offset?: number; length?: number; signal?: AbortSignal }): Promise<Buffer> {
    const data = await this.inner.load(h, opts);
    if (this.down !== undefined) await wait(this.down.take(data.length), opts?.signal, handleToPath(h));
    return data;
  }
}
