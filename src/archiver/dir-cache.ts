// A local record of every directory a backup stored: a fingerprint of what lstat said about its entries
// and the tree id it got. A backup whose parent is that snapshot reuses an unchanged directory's tree id
// without loading, decrypting, parsing and comparing the parent's tree. It is a cache: losing it costs
// time, never data. It never lives in the repository, and a file that fails its MAC is ignored, not trusted.

import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '../core/atomic-file.js';
import type { SourceStat } from './metadata.js';

/** One directory as recorded: fingerprints of its non-directory and directory entries, and its tree id. */
export interface DirRecord {
  files: Buffer;
  dirs: Buffer;
  tree: string;
}

/** A keyed hash (the repository's id key): fingerprints and the file's MAC reveal nothing without it. */
export type KeyedHash = (data: Uint8Array) => Buffer;

const MAGIC = Buffer.from('repo dir cache 1\n');
const KEY = 16;
const FP = 16;
const TREE = 32;
const RECORD = KEY + FP + FP + TREE;
const MAC = 32;

export class DirCache {
  private readonly next = new Map<string, DirRecord>();

  private constructor(
    private readonly hash: KeyedHash,
    private readonly previous: Map<string, DirRecord>,
  ) {}

  /** An empty cache: records what this backup stores, offers nothing. */
  static empty(hash: KeyedHash): DirCache {
    return new DirCache(hash, new Map());
  }

  /**
   * The record written by the backup that made snapshot `parentId`, if there is a valid one in `dir`.
   * Any problem (missing, truncated, foreign, tampered) gives an empty cache: the backup then compares
   * trees as it would without one.
   */
  static load(dir: string, parentId: string, hash: KeyedHash): DirCache {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(path.join(dir, parentId));
    } catch {
      return DirCache.empty(hash);
    }
    const head = MAGIC.length + 32 + 4;
    if (bytes.length < head + MAC || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return DirCache.empty(hash);
    const body = bytes.subarray(0, bytes.length - MAC);
    if (!hash(body).equals(bytes.subarray(bytes.length - MAC))) return DirCache.empty(hash);
    if (bytes.subarray(MAGIC.length, MAGIC.length + 32).toString('hex') !== parentId) return DirCache.empty(hash);
    const count = bytes.readUInt32LE(MAGIC.length + 32);
    if (body.length !== head + count * RECORD) return DirCache.empty(hash);
    const previous = new Map<string, DirRecord>();
    for (let at = head; at < body.length; at += RECORD) {
      previous.set(bytes.toString('latin1', at, at + KEY), {
        files: bytes.subarray(at + KEY, at + KEY + FP),
        dirs: bytes.subarray(at + KEY + FP, at + KEY + 2 * FP),
        tree: bytes.toString('hex', at + KEY + 2 * FP, at + RECORD),
      });
    }
    return new DirCache(hash, previous);
  }

  private key(abs: Buffer): string {
    return this.hash(abs).toString('latin1', 0, KEY);
  }

  /** What the parent's backup recorded for this directory. */
  lookup(abs: Buffer): DirRecord | undefined {
    return this.previous.get(this.key(abs));
  }

  record(abs: Buffer, r: DirRecord): void {
    this.next.set(this.key(abs), r);
  }

  /**
   * Writes this backup's records as `dir/<snapshotId>` (temporary name, fsync, rename, fsync of the
   * folder) and removes the parent's file, which no backup will want once a newer one exists.
   */
  save(dir: string, snapshotId: string, parentId?: string): void {
    const head = MAGIC.length + 32 + 4;
    const out = Buffer.alloc(head + this.next.size * RECORD + MAC);
    MAGIC.copy(out, 0);
    out.write(snapshotId, MAGIC.length, 'hex');
    out.writeUInt32LE(this.next.size, MAGIC.length + 32);
    let at = head;
    for (const [k, r] of this.next) {
      out.write(k, at, 'latin1');
      r.files.copy(out, at + KEY);
      r.dirs.copy(out, at + KEY + FP);
      out.write(r.tree, at + KEY + 2 * FP, 'hex');
      at += RECORD;
    }
    this.hash(out.subarray(0, at)).copy(out, at);
    writeFileAtomicSync(path.join(dir, snapshotId), out, { makeDir: true });
    // After the new file is durable: a crash before this removal only leaves a stale file behind.
    if (parentId !== undefined && parentId !== snapshotId) fs.rmSync(path.join(dir, parentId), { force: true });
  }
}

/** An entry as the walk saw it: its name and what lstat said. */
export interface StatEntry {
  child: Buffer;
  st: SourceStat;
}

/** lstat fields per entry in a fingerprint. */
const FIELDS = 10;

/**
 * A fingerprint of the entries' names and of every lstat field that change detection compares (type and
 * mode, owner, links, size, mtime, ctime, inode, device, rdev), plus for directories the tree id their own
 * backup produced (`subtrees[i]`, hex). Two equal fingerprints mean the directory would serialize to the
 * same tree, as long as the parent's nodes for it are what this fingerprint was recorded with. (Fields go
 * into a BigUint64Array, in this machine's byte order: the cache never leaves the machine.)
 */
export function fingerprint(hash: KeyedHash, entries: readonly StatEntry[], subtrees?: readonly string[]): Buffer {
  const order = entries.map((_, i) => i).sort((a, b) => Buffer.compare(entries[a].child, entries[b].child));
  const fields = new BigUint64Array(entries.length * FIELDS);
  let size = fields.byteLength;
  for (const e of entries) size += 4 + e.child.length + (subtrees ? TREE : 0);
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  let f = 0;
  for (const i of order) {
    const { child, st } = entries[i];
    at = buf.writeUInt32LE(child.length, at);
    at += child.copy(buf, at);
    if (subtrees) at += buf.write(subtrees[i], at, 'hex');
    fields[f++] = st.mode;
    fields[f++] = st.uid;
    fields[f++] = st.gid;
    fields[f++] = st.nlink;
    fields[f++] = st.size;
    fields[f++] = st.mtimeNs;
    fields[f++] = st.ctimeNs;
    fields[f++] = st.ino;
    fields[f++] = st.dev;
    fields[f++] = st.rdev;
  }
  at += Buffer.from(fields.buffer).copy(buf, at);
  return hash(buf.subarray(0, at)).subarray(0, FP);
}
