// A Backend wrapper that counts the calls reaching the backend it wraps, by method and file type,
// so tests can see what a cache or a command asked the storage for. Only tests import this.

import type { Backend, FileInfo, FileType, Handle, SaveData, SaveOptions } from '../../src/backend/backend.js';

export class CountingBackend implements Backend {
  readonly location: string;
  /** e.g. `load:index`, `load:data`, `save:snapshots`, `list:keys`. */
  readonly calls = new Map<string, number>();
  /** Every load, in order: type/name and whether it was ranged. */
  readonly loads: { type: FileType; name: string; ranged: boolean }[] = [];

  constructor(readonly inner: Backend) {
    this.location = inner.location;
  }

  private count(op: string, type: FileType): void {
    const k = `${op}:${type}`;
    this.calls.set(k, (this.calls.get(k) ?? 0) + 1);
  }

  get(op: string, type: FileType): number {
    return this.calls.get(`${op}:${type}`) ?? 0;
  }

  reset(): void {
    this.calls.clear();
    this.loads.length = 0;
  }

  create(): Promise<void> {
    return this.inner.create();
  }

  save(h: Handle, data: SaveData, opts?: SaveOptions): Promise<void> {
    this.count('save', h.type);
    return this.inner.save(h, data, opts);
  }

  load(h: Handle, opts?: { offset?: number; length?: number; signal?: AbortSignal }): Promise<Buffer> {
    this.count('load', h.type);
    this.loads.push({ type: h.type, name: h.name, ranged: opts?.offset !== undefined || opts?.length !== undefined });
    return this.inner.load(h, opts);
  }

  stat(h: Handle): Promise<FileInfo> {
    this.count('stat', h.type);
    return this.inner.stat(h);
  }

  exists(h: Handle): Promise<boolean> {
    this.count('exists', h.type);
    return this.inner.exists(h);
  }

  list(type: FileType, opts?: { signal?: AbortSignal }): AsyncIterable<FileInfo> {
    this.count('list', type);
    return this.inner.list(type, opts);
  }

  remove(h: Handle): Promise<void> {
    this.count('remove', h.type);
    return this.inner.remove(h);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
