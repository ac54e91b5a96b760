// Whole-pack reads for restore: the packs most recently needed are kept in memory, so the many small
// blobs of a pack cost one read of the pack instead of one ranged read (an open, a read, a close) each.
// It only reads; every blob still goes through the repository's authentication and id check.

import type { IndexedBlob } from '../repository/blob.js';
import type { Repository } from '../repository/repository.js';

/** Packs larger than this are read by ranges, blob by blob, rather than whole. */
const MAX_WHOLE_PACK = 40 * 1024 * 1024;

export class PackCache {
  private readonly packs = new Map<string, Promise<Buffer>>(); // insertion order = least recently used first

  constructor(
    private readonly repo: Repository,
    private readonly capacity = 4,
  ) {}

  /** The plaintext of a data blob, read through the cached whole pack when packs are small enough. */
  async loadBlob(id: Buffer): Promise<Buffer> {
    if (this.repo.config.pack_size > MAX_WHOLE_PACK) return this.repo.loadBlob('data', id);
    const locations = this.repo.index.lookupAll('data', id);
    let firstError: unknown;
    for (const loc of locations) {
      try {
        return await this.loadAt(loc);
      } catch (err) {
        firstError ??= err;
      }
    }
    // No location (or none readable): the repository's own error names the blob, pack and file.
    if (firstError === undefined) return this.repo.loadBlob('data', id);
    throw firstError;
  }

  private async loadAt(loc: IndexedBlob): Promise<Buffer> {
    const pack = await this.pack(loc.pack);
    if (loc.offset + loc.storedLength > pack.length) return this.repo.loadBlobAt(loc); // reports the short pack
    return this.repo.openBlob(loc, pack.subarray(loc.offset, loc.offset + loc.storedLength));
  }

  private pack(name: string): Promise<Buffer> {
    let p = this.packs.get(name);
    if (p) {
      this.packs.delete(name); // move to the most recently used end
      this.packs.set(name, p);
      return p;
    }
    p = this.repo.backend.load({ type: 'data', name });
    p.catch(() => this.packs.delete(name)); // a failed read is not cached
    this.packs.set(name, p);
    while (this.packs.size > this.capacity) this.packs.delete(this.packs.keys().next().value!);
    return p;
  }
}
