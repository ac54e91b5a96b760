// Snapshot files as the UI reads them again and again: each decrypted once and kept (a snapshot file is named
// by the hash of its content, so a name always means the same bytes), new ones loaded several at a time.
// Every request still lists the names, so snapshots added while the UI runs show up at once; their blobs are
// found because new snapshots make it read the index files again (the UI's shared lock keeps prune out, so the
// index only ever grows meanwhile and re-reading it adds entries, never drops one).

import { AAD_SNAPSHOT } from '../repository/aad.js';
import type { Repository } from '../repository/repository.js';
import type { SnapshotReader } from '../snapshot/snapshot.js';

/** Snapshot files decrypted at once when many are new (the first page load of a large repository). */
const PARALLEL = 8;

export class SnapshotFiles implements SnapshotReader {
  private readonly plain = new Map<string, Promise<Buffer>>();
  private listed = false;
  private indexReload: Promise<void> | undefined;

  constructor(private readonly repo: Repository) {}

  warn(message: string): void {
    this.repo.warn(message);
  }

  async listNames(type: Parameters<Repository['listNames']>[0]): Promise<string[]> {
    const names = await this.repo.listNames(type);
    if (type !== 'snapshots') return names;
    const present = new Set(names);
    for (const id of this.plain.keys()) if (!present.has(id)) this.plain.delete(id);
    const missing = names.filter((n) => !this.plain.has(n));
    if (this.listed && missing.length > 0) await this.reloadIndex();
    this.listed = true;
    // Start the loads of new files in bounded batches; loadUnpacked then finds them started or done.
    for (let i = 0; i < missing.length; i += PARALLEL) {
      const batch = missing.slice(i, i + PARALLEL).map((n) => this.start(n));
      await Promise.allSettled(batch);
    }
    return names;
  }

  loadUnpacked(type: Parameters<Repository['loadUnpacked']>[0], name: string, aad: Buffer): Promise<Buffer> {
    if (type !== 'snapshots' || !aad.equals(AAD_SNAPSHOT)) return this.repo.loadUnpacked(type, name, aad);
    return this.start(name);
  }

  /** Reads the index files again (one reload at a time; callers that arrive meanwhile wait for it). */
  private reloadIndex(): Promise<void> {
    this.indexReload ??= this.repo.loadIndex().finally(() => (this.indexReload = undefined));
    return this.indexReload;
  }

  private start(name: string): Promise<Buffer> {
    let p = this.plain.get(name);
    if (p === undefined) {
      p = this.repo.loadUnpacked('snapshots', name, AAD_SNAPSHOT);
      this.plain.set(name, p);
      // A failed load is not kept: the next request tries again (and reports the error itself).
      p.catch(() => this.plain.delete(name));
    }
    return p;
  }
}
