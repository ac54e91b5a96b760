// The typed backend stack: a WrappingBackend forwards to exactly one `inner` backend, and unwrap() finds a
// layer of a given class by walking those links. Must never find a layer by its shape (duck typing): a
// wrapper that happens to lack a method must not hide the layer below it.

import type { Backend, FileInfo, FileType, Handle, SaveData, SaveOptions } from './backend.js';
import { LocalBackend } from './local.js';
import type { ObjectRetention } from './object-lock.js';
import { MemoryBackend } from './memory.js';

/**
 * A Backend that adds one concern (retrying, caching, dry runs, bandwidth limits) to another one. Every
 * method forwards to `inner` unless a subclass overrides it; close() closes the whole stack below.
 */
export abstract class WrappingBackend implements Backend {
  constructor(readonly inner: Backend) {}

  get location(): string {
    return this.inner.location;
  }

  create(): Promise<void> {
    return this.inner.create();
  }

  save(h: Handle, data: SaveData, opts?: SaveOptions): Promise<void> {
    return this.inner.save(h, data, opts);
  }

  load(h: Handle, opts?: { offset?: number; length?: number; signal?: AbortSignal }): Promise<Buffer> {
    return this.inner.load(h, opts);
  }

  stat(h: Handle): Promise<FileInfo> {
    return this.inner.stat(h);
  }

  exists(h: Handle): Promise<boolean> {
    return this.inner.exists(h);
  }

  list(type: FileType, opts?: { signal?: AbortSignal }): AsyncIterable<FileInfo> {
    return this.inner.list(type, opts);
  }

  remove(h: Handle): Promise<void> {
    return this.inner.remove(h);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  retention(): ObjectRetention | undefined {
    return this.inner.retention?.();
  }
}

/** The layers of a stack, outermost first, ending with the backend that stores the files. */
export function* layers(b: Backend): Generator<Backend> {
  let cur: Backend = b;
  for (;;) {
    yield cur;
    if (!(cur instanceof WrappingBackend)) return;
    cur = cur.inner;
  }
}

type Class<T> = abstract new (...args: any[]) => T;

/** The outermost layer of b's stack that is a `cls` (b itself included), or undefined. */
export function unwrap<T extends Backend>(b: Backend, cls: Class<T>): T | undefined {
  for (const layer of layers(b)) if (layer instanceof cls) return layer;
  return undefined;
}

/** The backend at the bottom of the stack: the one that stores the files. */
export function innermost(b: Backend): Backend {
  let last = b;
  for (const layer of layers(b)) last = layer;
  return last;
}

/** Whether b's files live behind a network (anything but a local directory or memory): worth parallel requests. */
export function isRemoteStack(b: Backend): boolean {
  const bottom = innermost(b);
  return !(bottom instanceof LocalBackend || bottom instanceof MemoryBackend);
}

/** A store that writes under temporary names and can remove those abandoned by killed writers (local, SFTP). */
export interface TemporaryFileStore extends Backend {
  cleanupTemporaryFiles(maxAgeMs?: number): Promise<number>;
}

/** The store at the bottom of b's stack if it keeps temporary files, else undefined. */
export function temporaryFileStore(b: Backend): TemporaryFileStore | undefined {
  const bottom = innermost(b) as Partial<TemporaryFileStore> & Backend;
  return typeof bottom.cleanupTemporaryFiles === 'function' ? (bottom as TemporaryFileStore) : undefined;
}
