// DryRunBackend: what `backup --dry-run` writes through. Reads pass through; pack and index writes are
// computed by the caller and then dropped here; locks are real (a dry run still excludes a concurrent prune).
// Must never let a snapshot, key, config or audit file, or any deletion other than of a lock, reach storage.

import { RepoError } from '../core/errors.js';
import { type Backend, type Handle, type SaveData, type SaveOptions, handleToPath } from './backend.js';
import type { ObjectRetention } from './object-lock.js';
import { WrappingBackend } from './stack.js';

export class DryRunBackend extends WrappingBackend {
  /** Files whose writes were dropped, by type (for reports and tests). */
  readonly dropped = { data: 0, index: 0 };

  constructor(inner: Backend) {
    super(inner);
  }

  override async create(): Promise<void> {
    throw new RepoError('INVALID_ARGUMENT', 'a dry run must not create a repository');
  }

  override async save(h: Handle, data: SaveData, opts?: SaveOptions): Promise<void> {
    const file = handleToPath(h);
    if (h.type === 'locks') return this.inner.save(h, data, opts);
    if (h.type === 'data' || h.type === 'index') {
      this.dropped[h.type]++;
      return;
    }
    throw new RepoError('INVALID_ARGUMENT', `a dry run must not store ${h.type} files`, { file });
  }

  /** Locks can be read, never extended: a dry run changes nothing in storage. */
  override retention(): ObjectRetention | undefined {
    const inner = this.inner.retention?.();
    if (inner === undefined) return undefined;
    return {
      get writePolicy() {
        return inner.writePolicy;
      },
      setWritePolicy: (p) => inner.setWritePolicy(p),
      checkLockEnabled: () => inner.checkLockEnabled(),
      retention: (h) => inner.retention(h),
      extendRetention: async () => false,
    };
  }

  override async remove(h: Handle): Promise<void> {
    const file = handleToPath(h);
    if (h.type === 'locks') return this.inner.remove(h);
    throw new RepoError('INVALID_ARGUMENT', `a dry run must not remove ${file}`, { file });
  }
}
