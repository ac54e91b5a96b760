// Lists and stats the directories of a backup while the repository's key is derived. The key derivation
// (scrypt, about 0.45 s) runs on a thread of the pool and leaves this thread idle; the walk that follows
// makes one readdir per directory and one lstat per entry on this thread, which for an unchanged tree is
// most of what a backup does. Done here first, the walk finds those directories ready (walker.ts takes
// them) and the two overlap instead of adding up.
//
// A listing is used only while it is fresh (MAX_AGE_MS), so a backup never records a directory as it was
// much earlier than when its walk reached it: a slow first backup falls back to its own system calls.
// It follows the walk's rules: excluded paths (and, with --one-file-system, other file systems) are
// neither listed nor stat'ed, so a hanging mount the user excluded is not touched either.

import fs from 'node:fs';
import type { BigIntStats } from 'node:fs';
import path from 'node:path';
import { compileExcluder, type ExcludeOptions } from './exclude-fs.js';
import type { SourceStat } from './metadata.js';

/** A listing older than this when the walk asks for it is dropped; the walk lists the directory itself. */
export const MAX_AGE_MS = 2000;
/**
 * Entries stat'ed at most (about 16 MiB of names and stats), whatever the time the key derivation takes. A
 * directory that would cross it is not listed ahead at all (one of a million files would otherwise hold the
 * thread for seconds and its listing 100 MiB); listing ends there.
 */
export const MAX_ENTRIES = 65_536;

export interface PrefetchLimits {
  /** A listing older than this is not used (default MAX_AGE_MS). */
  maxAgeMs?: number;
  /** Entries listed at most (default MAX_ENTRIES). */
  maxEntries?: number;
}
/** Entries between two turns of the event loop, so the key's completion is seen within a millisecond or two. */
const SLICE = 256;
const SLASH = Buffer.from('/');
const NONE = Buffer.alloc(0);

/**
 * The path of entry `name` in directory `abs`, as the walk builds it. Listings are keyed by these bytes, so
 * the walk and the listing ahead must build them alike: both call this.
 */
export function childPath(abs: Buffer, name: Buffer): Buffer {
  return Buffer.concat([abs, abs[abs.length - 1] === 0x2f ? NONE : SLASH, name]);
}

/** One directory as readdir and lstat saw it: stat(i) is names[i]'s (undefined: excluded or failed). */
export interface Listing {
  names: Buffer[];
  stat(i: number): SourceStat | undefined;
}

// The fields of SourceStat, packed 11 to an entry: BigIntStats objects cost about 1.5 KiB each kept (18
// BigInts), and holding tens of thousands of them grew the heap by 90 MiB and doubled the GC's work.
const FIELDS = 11;
const [DEV, INO, MODE, NLINK, UID, GID, RDEV, SIZE, ATIME, MTIME, CTIME] = Array.from({ length: FIELDS }, (_, i) => i);
const { S_IFMT, S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK } = fs.constants;

/** SourceStat over a packed row. Unsigned fields (all but the times) are stored wrapped to 64 signed bits. */
class PackedStat implements SourceStat {
  constructor(
    private readonly v: BigInt64Array,
    private readonly at: number,
  ) {}
  private u(f: number): bigint {
    return BigInt.asUintN(64, this.v[this.at + f]);
  }
  get dev(): bigint {
    return this.u(DEV);
  }
  get ino(): bigint {
    return this.u(INO);
  }
  get mode(): bigint {
    return this.u(MODE);
  }
  get nlink(): bigint {
    return this.u(NLINK);
  }
  get uid(): bigint {
    return this.u(UID);
  }
  get gid(): bigint {
    return this.u(GID);
  }
  get rdev(): bigint {
    return this.u(RDEV);
  }
  get size(): bigint {
    return this.u(SIZE);
  }
  get atimeNs(): bigint {
    return this.v[this.at + ATIME];
  }
  get mtimeNs(): bigint {
    return this.v[this.at + MTIME];
  }
  get ctimeNs(): bigint {
    return this.v[this.at + CTIME];
  }
  private is(type: number): boolean {
    return (Number(this.v[this.at + MODE]) & S_IFMT) === type;
  }
  isFile(): boolean {
    return this.is(S_IFREG);
  }
  isDirectory(): boolean {
    return this.is(S_IFDIR);
  }
  isSymbolicLink(): boolean {
    return this.is(S_IFLNK);
  }
  isFIFO(): boolean {
    return this.is(S_IFIFO);
  }
  isSocket(): boolean {
    return this.is(S_IFSOCK);
  }
  isCharacterDevice(): boolean {
    return this.is(S_IFCHR);
  }
  isBlockDevice(): boolean {
    return this.is(S_IFBLK);
  }
}

function pack(v: BigInt64Array, at: number, st: BigIntStats): void {
  v[at + DEV] = BigInt.asIntN(64, st.dev);
  v[at + INO] = BigInt.asIntN(64, st.ino);
  v[at + MODE] = st.mode;
  v[at + NLINK] = st.nlink;
  v[at + UID] = st.uid;
  v[at + GID] = st.gid;
  v[at + RDEV] = BigInt.asIntN(64, st.rdev);
  v[at + SIZE] = st.size;
  v[at + ATIME] = st.atimeNs;
  v[at + MTIME] = st.mtimeNs;
  v[at + CTIME] = st.ctimeNs;
}

/**
 * A directory's entries packed: names back to back in `bytes` (name i ends at ends[i]), and `stated[i]`
 * saying whether row i of `values` holds its stat. A Buffer per name, as readdir gives them, cost a
 * native allocation and two objects each for as long as the listing waits.
 */
class PackedListing implements Listing {
  constructor(
    private readonly bytes: Buffer,
    private readonly ends: Uint32Array,
    private readonly values: BigInt64Array,
    private readonly stated: Uint8Array,
  ) {}
  get names(): Buffer[] {
    const out = new Array<Buffer>(this.ends.length);
    for (let i = 0; i < out.length; i++) out[i] = this.bytes.subarray(i === 0 ? 0 : this.ends[i - 1], this.ends[i]);
    return out;
  }
  stat(i: number): SourceStat | undefined {
    return this.stated[i] === 1 ? new PackedStat(this.values, i * FIELDS) : undefined;
  }
}

interface Pending {
  abs: Buffer;
  dev: bigint;
}

export class StatPrefetch {
  readonly #listings = new Map<string, { listing: Listing; at: number }>();
  readonly #excluded: (abs: string) => boolean;
  readonly #oneFileSystem: boolean;
  readonly #stack: Pending[] = [];
  #entries = 0;
  #stopped = false;
  /** Listings handed to the walk, and listings dropped as too old. */
  readonly counts = { taken: 0, stale: 0 };

  private constructor(
    opts: ExcludeOptions & { oneFileSystem?: boolean },
    private readonly maxAgeMs: number,
    private readonly maxEntries: number,
  ) {
    // Warnings (an unreadable tag file) are the walk's to give, once.
    this.#excluded = compileExcluder(opts, () => undefined);
    this.#oneFileSystem = opts.oneFileSystem === true;
  }

  /** Starts listing the directories under `paths` (as the backup resolves them), a slice per turn of the event loop. */
  static start(
    paths: string[],
    opts: ExcludeOptions & { oneFileSystem?: boolean },
    limits: PrefetchLimits = {},
  ): StatPrefetch {
    const p = new StatPrefetch(opts, limits.maxAgeMs ?? MAX_AGE_MS, limits.maxEntries ?? MAX_ENTRIES);
    for (const target of [...new Set(paths.map((t) => path.resolve(t)))].reverse()) {
      try {
        const st = fs.lstatSync(target, { bigint: true });
        if (st.isDirectory() && !p.#excluded(target)) p.#stack.push({ abs: Buffer.from(target), dev: st.dev });
      } catch {
        // the backup reports a missing target itself
      }
    }
    p.#schedule();
    return p;
  }

  /**
   * No more listing from now on; what is listed stays available to take() while fresh, and is dropped
   * once all of it has grown too old (a first backup reaches most directories long after).
   */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#stack.length = 0;
    setTimeout(() => this.#listings.clear(), this.maxAgeMs + 100).unref();
  }

  /** Whether listing has ended: everything is listed, or stop() was called, or the bound was reached. */
  get done(): boolean {
    return this.#stopped || this.#stack.length === 0;
  }

  /** The listing of `abs` if one was made and is still fresh; each is handed out once. */
  take(abs: Buffer): Listing | undefined {
    const key = abs.toString('latin1'); // one character per byte: exact for any name
    const l = this.#listings.get(key);
    if (l === undefined) return undefined;
    this.#listings.delete(key);
    if (Date.now() - l.at > this.maxAgeMs) {
      this.counts.stale++;
      return undefined;
    }
    this.counts.taken++;
    return l.listing;
  }

  #schedule(): void {
    // Not unref'd: with only unref'd immediates pending, the event loop sleeps in its poll until some I/O
    // arrives, and the listing would advance a slice per wake-up. It ends by itself (maxEntries).
    if (this.#stack.length > 0 && !this.#stopped) setImmediate(() => this.#slice());
  }

  #slice(): void {
    let budget = SLICE;
    while (budget > 0 && !this.#stopped) {
      const next = this.#stack.pop();
      if (next === undefined) break;
      budget -= this.#list(next) + 1;
    }
    this.#schedule();
  }

  /** Lists one directory, as walker.ts backupDir would, and queues its subdirectories; returns the entries seen. */
  #list({ abs, dev }: Pending): number {
    let names: string[];
    try {
      names = fs.readdirSync(abs, { encoding: 'latin1' }); // one character per byte: the names' exact bytes
    } catch {
      return 0; // the walk tries again and warns
    }
    if (this.#entries + names.length > this.maxEntries) {
      this.stop(); // this directory and the rest are the walk's to list
      return 0;
    }
    const at = Date.now();
    const ends = new Uint32Array(names.length);
    let total = 0;
    for (let i = 0; i < names.length; i++) ends[i] = total += names[i].length;
    const bytes = Buffer.allocUnsafe(total);
    for (let i = 0; i < names.length; i++) bytes.write(names[i], i === 0 ? 0 : ends[i - 1], 'latin1');
    const values = new BigInt64Array(names.length * FIELDS);
    const stated = new Uint8Array(names.length);
    const subdirs: Pending[] = [];
    for (let i = 0; i < names.length; i++) {
      const childAbs = childPath(abs, bytes.subarray(i === 0 ? 0 : ends[i - 1], ends[i]));
      if (this.#excluded(childAbs.toString('utf8'))) continue;
      try {
        const st = fs.lstatSync(childAbs, { bigint: true });
        pack(values, i * FIELDS, st);
        stated[i] = 1;
        if (st.isDirectory() && !(this.#oneFileSystem && st.dev !== dev)) subdirs.push({ abs: childAbs, dev });
      } catch {
        // left undefined: the walk stats it again and warns
      }
    }
    this.#listings.set(abs.toString('latin1'), { listing: new PackedListing(bytes, ends, values, stated), at });
    this.#entries += names.length;
    // Depth first, first entry first: the order in which the walk reaches them.
    for (let i = subdirs.length - 1; i >= 0; i--) this.#stack.push(subdirs[i]);
    return names.length;
  }
}
