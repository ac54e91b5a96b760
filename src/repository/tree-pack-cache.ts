// Whole packs of tree blobs kept in memory while trees are loaded: walking a snapshot loads thousands of small
// trees from a few packs, so one read per pack instead of one per tree. Holds at most a few packs, least recently
// used dropped first; must never keep a failed read (the caller falls back to a ranged read, which reports it).

/** Packs larger than this are never held whole: their trees are read by ranges. */
export const MAX_CACHED_TREE_PACK = 40 * 1024 * 1024;

export class TreePackCache {
  private readonly packs = new Map<string, Promise<Buffer>>(); // least recently used first

  /** `load` reads one whole pack file; `capacity` is how many packs are held at once. */
  constructor(
    private readonly load: (pack: string) => Promise<Buffer>,
    private readonly capacity = 2,
  ) {}

  /** The whole pack, read once while it stays among the most recently used. */
  get(pack: string): Promise<Buffer> {
    let p = this.packs.get(pack);
    if (p !== undefined) {
      this.packs.delete(pack); // most recently used last
      this.packs.set(pack, p);
      return p;
    }
    p = this.load(pack);
    p.catch(() => this.packs.delete(pack));
    this.packs.set(pack, p);
    while (this.packs.size > this.capacity) this.packs.delete(this.packs.keys().next().value!);
    return p;
  }

  /** Lets go of every pack held (when done walking trees for a while, so they do not sit in memory). */
  clear(): void {
    this.packs.clear();
  }
}
