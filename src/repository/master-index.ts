// The in-memory index of every blob in the repository, in fixed-size typed-array records.
// Memory per blob: 32 (id) + 4×4 (pack, offset, stored, raw) + 1 (type/compression) + 8 (two 4-byte
// hash slots at load ≤ 0.5) ≈ 57 bytes, with no per-blob JS objects. It never does I/O.

import type { BlobEntry, BlobType, IndexedBlob } from './blob.js';
import { Compression, ENTRY_SIZE } from './blob.js';

const INITIAL_CAPACITY = 1024;

export class MasterIndex {
  private count = 0;
  private capacity = 0;
  private ids = Buffer.alloc(0);
  private packIdx = new Uint32Array(0);
  private offsets = new Uint32Array(0);
  private stored = new Uint32Array(0);
  private raw = new Uint32Array(0);
  private flags = new Uint8Array(0); // bit0: tree, bit1: zstd
  private slots = new Int32Array(0); // entry index + 1, 0 = empty
  private slotMask = 0;
  private readonly packs: string[] = [];
  private readonly packNumbers = new Map<string, number>();
  private readonly treePackNumbers = new Set<number>();

  constructor() {
    this.grow(INITIAL_CAPACITY);
  }

  get size(): number {
    return this.count;
  }

  /** Approximate bytes held by the index arrays (for statistics and the bench). */
  get memoryBytes(): number {
    return this.capacity * (32 + 16 + 1) + this.slots.byteLength;
  }

  /** Adds a location; the same (type, id) in the same pack is ignored, in another pack it is kept as a duplicate. */
  add(pack: string, e: BlobEntry): void {
    if (this.count === this.capacity) this.grow(this.capacity * 2);
    const flags = (e.type === 'tree' ? 1 : 0) | (e.compression === Compression.Zstd ? 2 : 0);
    this.insert(this.packNumber(pack), flags, e.offset, e.storedLength, e.rawLength, e.id, 0);
  }

  /**
   * Adds every entry of `records` (48-byte records as index files store them, already checked: index-file.ts
   * decodeIndexRecords) as add() would, without an object per entry.
   */
  addRecords(pack: string, records: Buffer): void {
    const n = records.length / ENTRY_SIZE;
    let capacity = this.capacity;
    while (capacity < this.count + n) capacity *= 2;
    if (capacity !== this.capacity) this.grow(capacity); // once, not once per doubling
    const p = this.packNumber(pack);
    for (let at = 0; at < records.length; at += ENTRY_SIZE) {
      // writeEntry's layout (blob.ts): type, compression, 2 reserved, offset, stored, raw, id.
      const flags = (records[at] === 1 ? 1 : 0) | (records[at + 1] === Compression.Zstd ? 2 : 0);
      const offset = records.readUInt32LE(at + 4);
      const stored = records.readUInt32LE(at + 8);
      const raw = records.readUInt32LE(at + 12);
      this.insert(p, flags, offset, stored, raw, records, at + 16);
    }
  }

  /** The entry unless the same (type, id) is known in pack `p` already; the id is id[idAt, idAt + 32). Needs room for one. */
  private insert(
    p: number,
    flags: number,
    offset: number,
    stored: number,
    raw: number,
    id: Uint8Array,
    idAt: number,
  ): void {
    const tree = (flags & 1) === 1;
    if (tree) this.treePackNumbers.add(p);
    for (let s = this.firstSlot(id, idAt); ; s = (s + 1) & this.slotMask) {
      const v = this.slots[s];
      if (v === 0) break;
      const i = v - 1;
      if (this.packIdx[i] === p && this.matches(i, id, tree, idAt)) return;
    }
    const i = this.count++;
    this.ids.set(id.subarray(idAt, idAt + 32), i * 32);
    this.packIdx[i] = p;
    this.offsets[i] = offset;
    this.stored[i] = stored;
    this.raw[i] = raw;
    this.flags[i] = flags;
    this.insertSlot(i);
  }

  has(type: BlobType, id: Uint8Array): boolean {
    return this.findFirst(type, id) >= 0;
  }

  /** The first known location of a blob, or undefined. */
  lookup(type: BlobType, id: Uint8Array): IndexedBlob | undefined {
    const i = this.findFirst(type, id);
    return i < 0 ? undefined : this.entryAt(i);
  }

  /**
   * The entry number of a blob's first location, or -1: for a caller that keeps a mark per entry (check's sum
   * of stored bytes) without an object and an id copy per lookup. Entry numbers never change; later adds get higher ones.
   */
  find(type: BlobType, id: Uint8Array): number {
    return this.findFirst(type, id);
  }

  /** The stored length of entry `i` (from find). */
  storedLengthAt(i: number): number {
    return this.stored[i];
  }

  /** Every known location of a blob (more than one when the blob is stored in several packs). */
  lookupAll(type: BlobType, id: Uint8Array): IndexedBlob[] {
    const out: IndexedBlob[] = [];
    const tree = type === 'tree';
    for (let s = this.firstSlot(id); ; s = (s + 1) & this.slotMask) {
      const v = this.slots[s];
      if (v === 0) return out;
      if (this.matches(v - 1, id, tree)) out.push(this.entryAt(v - 1));
    }
  }

  /**
   * Each blob that more than one pack holds, once, with how many do: yielded at the location lookupAll
   * would list first, in insertion order. Scans the table without an object per entry.
   */
  *duplicates(): IterableIterator<{ type: BlobType; id: Buffer; count: number }> {
    for (let i = 0; i < this.count; i++) {
      const tree = (this.flags[i] & 1) === 1;
      const at = i * 32;
      let count = 0;
      let first = -1;
      for (let s = this.firstSlot(this.ids, at); ; s = (s + 1) & this.slotMask) {
        const v = this.slots[s];
        if (v === 0) break;
        if (!this.matches(v - 1, this.ids, tree, at)) continue;
        if (count++ === 0) first = v - 1;
      }
      if (count > 1 && first === i)
        yield { type: tree ? 'tree' : 'data', id: Buffer.from(this.ids.subarray(at, at + 32)), count };
    }
  }

  /** Every entry, in insertion order. */
  *entries(): IterableIterator<IndexedBlob> {
    for (let i = 0; i < this.count; i++) yield this.entryAt(i);
  }

  packIds(): string[] {
    return [...this.packs];
  }

  hasPack(pack: string): boolean {
    return this.packNumbers.has(pack);
  }

  /** Whether the index names a tree blob in this pack (packs hold blobs of one type, spec §7). */
  packHoldsTrees(pack: string): boolean {
    const n = this.packNumbers.get(pack);
    return n !== undefined && this.treePackNumbers.has(n);
  }

  private entryAt(i: number): IndexedBlob {
    const f = this.flags[i];
    return {
      pack: this.packs[this.packIdx[i]],
      type: f & 1 ? 'tree' : 'data',
      compression: f & 2 ? Compression.Zstd : Compression.None,
      id: Buffer.from(this.ids.subarray(i * 32, i * 32 + 32)),
      offset: this.offsets[i],
      storedLength: this.stored[i],
      rawLength: this.raw[i],
    };
  }

  private findFirst(type: BlobType, id: Uint8Array): number {
    const tree = type === 'tree';
    for (let s = this.firstSlot(id); ; s = (s + 1) & this.slotMask) {
      const v = this.slots[s];
      if (v === 0) return -1;
      if (this.matches(v - 1, id, tree)) return v - 1;
    }
  }

  /** Whether entry i is of the type `tree` says and its id is id[at, at + 32). */
  private matches(i: number, id: Uint8Array, tree: boolean, at = 0): boolean {
    if (((this.flags[i] & 1) === 1) !== tree) return false;
    const base = i * 32;
    for (let k = 0; k < 32; k++) if (this.ids[base + k] !== id[at + k]) return false;
    return true;
  }

  // Blob ids are uniformly random hash outputs, so their first four bytes are a good slot hash.
  private firstSlot(id: Uint8Array, at = 0): number {
    return ((id[at] | (id[at + 1] << 8) | (id[at + 2] << 16) | (id[at + 3] << 24)) >>> 0) & this.slotMask;
  }

  private insertSlot(i: number): void {
    const id = this.ids.subarray(i * 32, i * 32 + 32);
    let s = this.firstSlot(id);
    while (this.slots[s] !== 0) s = (s + 1) & this.slotMask;
    this.slots[s] = i + 1;
  }

  private packNumber(pack: string): number {
    let n = this.packNumbers.get(pack);
    if (n === undefined) {
      n = this.packs.length;
      this.packs.push(pack);
      this.packNumbers.set(pack, n);
    }
    return n;
  }

  private grow(capacity: number): void {
    const ids = Buffer.alloc(capacity * 32);
    this.ids.copy(ids, 0, 0, this.count * 32);
    this.ids = ids;
    this.packIdx = copyInto(new Uint32Array(capacity), this.packIdx, this.count);
    this.offsets = copyInto(new Uint32Array(capacity), this.offsets, this.count);
    this.stored = copyInto(new Uint32Array(capacity), this.stored, this.count);
    this.raw = copyInto(new Uint32Array(capacity), this.raw, this.count);
    this.flags = copyInto(new Uint8Array(capacity), this.flags, this.count);
    this.capacity = capacity;
    this.slots = new Int32Array(capacity * 2);
    this.slotMask = capacity * 2 - 1;
    for (let i = 0; i < this.count; i++) this.insertSlot(i);
  }
}

function copyInto<T extends Uint32Array | Uint8Array>(dst: T, src: T, n: number): T {
  dst.set(src.subarray(0, n));
  return dst;
}
