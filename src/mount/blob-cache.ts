// Reads file contents of a mounted snapshot by byte range: only the blobs a range touches are loaded, kept in a
// cache bounded in bytes (least recently used go first). Reading a 10 GiB file never holds more than the bound
// plus the blobs in flight.

import { idFromHex } from '../core/id.js';
import { NotFoundError } from '../core/errors.js';
import type { Repository } from '../repository/repository.js';

export type BlobSource = Pick<Repository, 'loadBlob' | 'index'>;

/** Plaintext data blobs by hex id, least recently used evicted once `maxBytes` is exceeded. */
export class BlobCache {
  private readonly entries = new Map<string, Buffer>(); // insertion order = recency
  private readonly loading = new Map<string, Promise<Buffer>>();
  private bytes = 0;

  constructor(
    private readonly repo: BlobSource,
    readonly maxBytes: number,
  ) {}

  /** Bytes held now (for tests and -v). */
  get size(): number {
    return this.bytes;
  }

  get(hex: string): Promise<Buffer> {
    const hit = this.entries.get(hex);
    if (hit !== undefined) {
      this.entries.delete(hex);
      this.entries.set(hex, hit);
      return Promise.resolve(hit);
    }
    let p = this.loading.get(hex);
    if (p === undefined) {
      p = this.repo.loadBlob('data', idFromHex(hex)).then(
        (buf) => {
          this.loading.delete(hex);
          this.put(hex, buf);
          return buf;
        },
        (err: unknown) => {
          this.loading.delete(hex);
          throw err;
        },
      );
      this.loading.set(hex, p);
    }
    return p;
  }

  /** Starts loading a blob that is likely read next; a failure is reported when it is actually read. */
  prefetch(hex: string): void {
    if (this.entries.has(hex) || this.loading.has(hex)) return;
    this.get(hex).catch(() => undefined);
  }

  private put(hex: string, buf: Buffer): void {
    if (buf.length > this.maxBytes) return; // served to its reader, never kept
    this.entries.set(hex, buf);
    this.bytes += buf.length;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= v.length;
    }
  }
}

/** How many blobs past the one being read are loaded ahead when reads move forward through a file. */
const READ_AHEAD_BLOBS = 2;

/** One file's content as a list of blobs with their offsets (from the index; no blob is read to build it). */
export class FileContent {
  private readonly starts: Float64Array; // starts[i] = offset of blob i; starts[n] = length
  private lastBlob = -1;

  private constructor(
    private readonly content: readonly string[],
    starts: Float64Array,
    private readonly cache: BlobCache,
  ) {
    this.starts = starts;
  }

  /** Throws NotFoundError naming a blob the index lacks. */
  static open(repo: BlobSource, content: readonly string[], cache: BlobCache): FileContent {
    const starts = new Float64Array(content.length + 1);
    for (let i = 0; i < content.length; i++) {
      const loc = repo.index.lookup('data', idFromHex(content[i]));
      if (loc === undefined)
        throw new NotFoundError(`data blob ${content[i]} is not in the index`, { blob: content[i] });
      starts[i + 1] = starts[i] + loc.rawLength;
    }
    return new FileContent(content, starts, cache);
  }

  get length(): number {
    return this.starts[this.content.length];
  }

  /** The index of the blob holding byte `offset` (offset < length). */
  private blobAt(offset: number): number {
    let lo = 0;
    let hi = this.content.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Up to `size` bytes from `offset` (fewer only at the end of the file). */
  async read(offset: number, size: number): Promise<Buffer> {
    const end = Math.min(this.length, offset + size);
    if (offset >= end) return Buffer.alloc(0);
    const first = this.blobAt(offset);
    const parts: Buffer[] = [];
    let i = first;
    for (let at = offset; at < end; i++) {
      const blob = await this.cache.get(this.content[i]);
      const from = at - this.starts[i];
      const to = Math.min(blob.length, end - this.starts[i]);
      parts.push(blob.subarray(from, to));
      at = this.starts[i] + to;
      if (to <= from) break; // a blob shorter than the index said: return what there is
    }
    // Forward reads (the kernel's read-ahead, cat, cp) get the next blobs loading while this one is copied out.
    if (first >= this.lastBlob) {
      for (let j = i; j < Math.min(this.content.length, i + READ_AHEAD_BLOBS); j++)
        this.cache.prefetch(this.content[j]);
    }
    this.lastBlob = i - 1;
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }
}
