// The regular files of a restore plan in a few typed arrays: numbers in one Float64Array, names in one byte
// arena, and per chunk the blob id with its location in the pack. A plan holds every file of the snapshot at
// once; an object per file, per piece and per path cost about 700 bytes a file and, on the kernel tree's 78k
// files, over a second of building and collecting. This costs about 110 bytes a file plus 52 a piece.
// Must never lose precision: times are kept as whole seconds plus nanoseconds, sizes and offsets as doubles.

import { Compression, type IndexedBlob } from '../repository/blob.js';

// Fields of one file, FILE_STRIDE doubles each.
const PARENT = 0; // index in plan.dirs, -1 for the target itself
const NAME_AT = 1;
const NAME_LEN = 2;
const MODE = 3;
const UID = 4;
const GID = 5;
const ATIME = 6; // seconds as Node's utimes wants them (metadata.ts, nsToNodeSeconds)
const MTIME = 7;
const MTIME_S = 8; // the exact mtime, for overwrite 'if-changed': whole seconds (floor) …
const MTIME_NS = 9; // … plus nanoseconds (0 ≤ n < 1e9)
const SIZE = 10;
const PIECE_AT = 11;
const PIECES = 12;
const FILE_STRIDE = 13;

// Fields of one piece, PIECE_STRIDE u32 each; the blob id is in `ids`.
const RAW = 0;
const PACK = 1; // number into `packs`
const OFFSET = 2;
const STORED = 3;
const ZSTD = 4;
const PIECE_STRIDE = 5;

export interface NumericMeta {
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch as Node's utimes wants them. */
  atime: number;
  mtime: number;
}

export interface FileEntry extends NumericMeta {
  parent: number;
  name: Uint8Array;
  /** The exact mtime as whole seconds (floor) and nanoseconds. */
  mtimeS: number;
  mtimeNs: number;
}

function grownF64(a: Float64Array, need: number): Float64Array {
  const b = new Float64Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

function grownU32(a: Uint32Array, need: number): Uint32Array {
  const b = new Uint32Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

function grownBytes(a: Buffer, need: number): Buffer {
  const b = Buffer.alloc(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

export class FileTable {
  private n = 0;
  private f: Float64Array = new Float64Array(64 * FILE_STRIDE);
  private names: Buffer = Buffer.alloc(4096);
  private namesUsed = 0;
  private p: Uint32Array = new Uint32Array(64 * PIECE_STRIDE);
  private ids: Buffer = Buffer.alloc(64 * 32);
  private np = 0;
  private readonly packs: string[] = [];
  private readonly packNumbers = new Map<string, number>();

  get count(): number {
    return this.n;
  }

  get pieceCount(): number {
    return this.np;
  }

  get packCount(): number {
    return this.packs.length;
  }

  /** Gives back the room kept for growth, once every file is added. */
  trim(): void {
    this.f = this.f.slice(0, this.n * FILE_STRIDE);
    this.names = Buffer.from(this.names.subarray(0, this.namesUsed));
    this.p = this.p.slice(0, this.np * PIECE_STRIDE);
    this.ids = Buffer.from(this.ids.subarray(0, this.np * 32));
  }

  /** Adds a file without pieces; `addPiece` then appends its pieces in file order. Returns its index. */
  add(e: FileEntry): number {
    const i = this.n++;
    if (this.n * FILE_STRIDE > this.f.length) this.f = grownF64(this.f, this.n * FILE_STRIDE);
    if (this.namesUsed + e.name.length > this.names.length)
      this.names = grownBytes(this.names, this.namesUsed + e.name.length);
    this.names.set(e.name, this.namesUsed);
    const o = i * FILE_STRIDE;
    const f = this.f;
    f[o + PARENT] = e.parent;
    f[o + NAME_AT] = this.namesUsed;
    f[o + NAME_LEN] = e.name.length;
    f[o + MODE] = e.mode;
    f[o + UID] = e.uid;
    f[o + GID] = e.gid;
    f[o + ATIME] = e.atime;
    f[o + MTIME] = e.mtime;
    f[o + MTIME_S] = e.mtimeS;
    f[o + MTIME_NS] = e.mtimeNs;
    f[o + SIZE] = 0;
    f[o + PIECE_AT] = this.np;
    f[o + PIECES] = 0;
    this.namesUsed += e.name.length;
    return i;
  }

  /** Takes back the last file added and its pieces (a file the plan refuses after all, e.g. for a blob the index lacks). */
  removeLast(): void {
    const o = (this.n - 1) * FILE_STRIDE;
    this.np = this.f[o + PIECE_AT];
    this.namesUsed = this.f[o + NAME_AT];
    this.n--;
  }

  /**
   * Appends a piece to the last file added: `hex` is its blob id (checked by the tree decoder), `locate` finds
   * where the index says the blob is. Returns false, adding nothing, when the index does not know the blob.
   */
  addPiece(hex: string, locate: (id: Uint8Array) => IndexedBlob | undefined): boolean {
    const k = this.np;
    if ((k + 1) * PIECE_STRIDE > this.p.length) this.p = grownU32(this.p, (k + 1) * PIECE_STRIDE);
    if ((k + 1) * 32 > this.ids.length) this.ids = grownBytes(this.ids, (k + 1) * 32);
    // Decoded straight into the table: no buffer per id.
    this.ids.write(hex, k * 32, 32, 'hex');
    const loc = locate(this.ids.subarray(k * 32, k * 32 + 32));
    if (loc === undefined) return false;
    this.np++;
    let pack = this.packNumbers.get(loc.pack);
    if (pack === undefined) {
      pack = this.packs.push(loc.pack) - 1;
      this.packNumbers.set(loc.pack, pack);
    }
    const o = k * PIECE_STRIDE;
    this.p[o + RAW] = loc.rawLength;
    this.p[o + PACK] = pack;
    this.p[o + OFFSET] = loc.offset;
    this.p[o + STORED] = loc.storedLength;
    this.p[o + ZSTD] = loc.compression === Compression.Zstd ? 1 : 0;
    const fo = (this.n - 1) * FILE_STRIDE;
    this.f[fo + PIECES]++;
    this.f[fo + SIZE] += loc.rawLength;
    return true;
  }

  parent(i: number): number {
    return this.f[i * FILE_STRIDE + PARENT];
  }

  /** The file's name (a view into the table: copy it to keep it). */
  name(i: number): Uint8Array {
    const at = this.f[i * FILE_STRIDE + NAME_AT];
    return this.names.subarray(at, at + this.f[i * FILE_STRIDE + NAME_LEN]);
  }

  size(i: number): number {
    return this.f[i * FILE_STRIDE + SIZE];
  }

  meta(i: number): NumericMeta {
    const o = i * FILE_STRIDE;
    const f = this.f;
    return { mode: f[o + MODE], uid: f[o + UID], gid: f[o + GID], atime: f[o + ATIME], mtime: f[o + MTIME] };
  }

  mode(i: number): number {
    return this.f[i * FILE_STRIDE + MODE];
  }

  /** Clears `bits` from every file's mode; returns the number of files that had any of them. */
  clearModeBits(bits: number): number {
    let changed = 0;
    for (let o = MODE; o < this.n * FILE_STRIDE; o += FILE_STRIDE) {
      if ((this.f[o] & bits) === 0) continue;
      this.f[o] &= ~bits;
      changed++;
    }
    return changed;
  }

  mtimeNs(i: number): bigint {
    const o = i * FILE_STRIDE;
    return BigInt(this.f[o + MTIME_S]) * 1_000_000_000n + BigInt(this.f[o + MTIME_NS]);
  }

  /** The file's pieces are firstPiece(i) … firstPiece(i) + pieces(i) - 1, in file order. */
  firstPiece(i: number): number {
    return this.f[i * FILE_STRIDE + PIECE_AT];
  }

  pieces(i: number): number {
    return this.f[i * FILE_STRIDE + PIECES];
  }

  /** The blob id of piece k (a view into the table). */
  pieceId(k: number): Uint8Array {
    return this.ids.subarray(k * 32, k * 32 + 32);
  }

  rawLength(k: number): number {
    return this.p[k * PIECE_STRIDE + RAW];
  }

  packOf(k: number): number {
    return this.p[k * PIECE_STRIDE + PACK];
  }

  packName(pack: number): string {
    return this.packs[pack];
  }

  packOffset(k: number): number {
    return this.p[k * PIECE_STRIDE + OFFSET];
  }

  storedLength(k: number): number {
    return this.p[k * PIECE_STRIDE + STORED];
  }

  zstd(k: number): boolean {
    return this.p[k * PIECE_STRIDE + ZSTD] === 1;
  }

  /**
   * Copies what a pack job needs of file i: into `f64` at `fo` atime, mtime, size, whole mtime seconds, mode,
   * uid, gid (doubles: a node's numbers go to the system calls exactly as stored), and returns the mtime's
   * nanoseconds (see pack-writer's job layout).
   */
  jobMeta(i: number, f64: Float64Array, fo: number): number {
    const o = i * FILE_STRIDE;
    const f = this.f;
    f64[fo] = f[o + ATIME];
    f64[fo + 1] = f[o + MTIME];
    f64[fo + 2] = f[o + SIZE];
    f64[fo + 3] = f[o + MTIME_S];
    f64[fo + 4] = f[o + MODE];
    f64[fo + 5] = f[o + UID];
    f64[fo + 6] = f[o + GID];
    return f[o + MTIME_NS];
  }
}
