// In-memory Backend for tests, with the same semantics as the local backend.
// Must never share buffers with callers (data is copied on save and on load) and never persist anything.

import { RepoError } from '../core/errors.js';
import {
  type Backend,
  type FileInfo,
  type FileType,
  type Handle,
  handleToPath,
  notFound,
  resolveRange,
  throwIfAborted,
  validateFileType,
  type SaveData,
  saveDataParts,
  type Upload,
} from './backend.js';

interface Entry {
  name: string;
  type: FileType;
  data: Buffer;
}

let counter = 0;

/** A Backend that keeps files in a Map. Each instance is an independent repository. */
export class MemoryBackend implements Backend {
  readonly location: string;
  private readonly files = new Map<string, Entry>();

  constructor(name?: string) {
    this.location = `memory:${name ?? String(++counter)}`;
  }

  async create(): Promise<void> {
    if (this.files.has('config')) {
      throw new RepoError('REPO_EXISTS', `a repository already exists at ${this.location}`, {
        path: this.location,
      });
    }
  }

  async save(h: Handle, data: SaveData, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const rel = handleToPath(h);
    throwIfAborted(opts.signal, rel);
    const copy = Buffer.concat(saveDataParts(data)); // copies; later changes to `data` are not seen
    await Promise.resolve();
    throwIfAborted(opts.signal, rel);
    this.files.set(rel, { name: h.name, type: h.type, data: copy });
  }

  /** Collects copies of the parts; commit() saves them as one file (so tests exercise streamed packs). */
  async beginUpload(type: FileType, opts: { signal?: AbortSignal } = {}): Promise<Upload> {
    validateFileType(type);
    throwIfAborted(opts.signal, type);
    const parts: Buffer[] = [];
    let done = false;
    const open = (): void => {
      if (done) throw new RepoError('INVALID_ARGUMENT', `the upload of a ${type} file is finished`);
    };
    return {
      write: async (part) => {
        open();
        parts.push(Buffer.from(part)); // a copy: the caller reuses its buffer
      },
      commit: async (h) => {
        open();
        if (h.type !== type)
          throw new RepoError('INVALID_ARGUMENT', `an upload begun for ${type} cannot become ${h.type}`);
        done = true;
        await this.save(h, parts, opts);
      },
      abort: async () => {
        done = true;
        parts.length = 0;
      },
    };
  }

  async load(h: Handle, opts: { offset?: number; length?: number; signal?: AbortSignal } = {}): Promise<Buffer> {
    const rel = handleToPath(h);
    throwIfAborted(opts.signal, rel);
    const e = this.files.get(rel);
    if (e === undefined) throw notFound(rel);
    const [start, end] = resolveRange(e.data.length, opts.offset, opts.length, rel);
    return Buffer.from(e.data.subarray(start, end)); // a copy
  }

  async stat(h: Handle): Promise<FileInfo> {
    const rel = handleToPath(h);
    const e = this.files.get(rel);
    if (e === undefined) throw notFound(rel);
    return { name: e.name, size: e.data.length };
  }

  async exists(h: Handle): Promise<boolean> {
    return this.files.has(handleToPath(h));
  }

  async *list(type: FileType, opts: { signal?: AbortSignal } = {}): AsyncIterable<FileInfo> {
    validateFileType(type);
    throwIfAborted(opts.signal, type);
    // Snapshot first so saves/removes during iteration do not disturb it.
    const entries = [...this.files.values()].filter((e) => e.type === type);
    for (const e of entries) {
      throwIfAborted(opts.signal, type);
      yield { name: e.name, size: e.data.length };
    }
  }

  async remove(h: Handle): Promise<void> {
    const rel = handleToPath(h);
    if (!this.files.delete(rel)) throw notFound(rel);
  }

  async close(): Promise<void> {
    // Nothing to release; the contents stay available until the object is dropped.
  }
}
