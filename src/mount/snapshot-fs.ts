// The file system a mount shows: the layout directories (layout.ts) over the snapshots, and each snapshot's
// trees and files read from the repository on demand. Never writes to the repository; new snapshots show up
// when a layout directory is read after SNAPSHOT_TTL_MS.

import { errorMessage } from '../core/errors.js';
import { shortId } from '../core/id.js';
import type { Repository } from '../repository/repository.js';
import { splitDev } from '../restorer/index.js';
import {
  isDamagedFile,
  loadSnapshot,
  matchesFilter,
  sortByTime,
  type SnapshotFilter,
  type StoredSnapshot,
} from '../snapshot/snapshot.js';
import type { TreeNode } from '../tree/node.js';
import { rfc3339ToNs } from '../tree/time.js';
import { loadTree, storedTreeShapes } from '../tree/tree-store.js';
import { ValidatingReader } from '../tree/validate-reader.js';
import { BlobCache, FileContent } from './blob-cache.js';
import {
  type Attr,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFREG,
  S_IFSOCK,
  Errno,
  writeDirent,
} from './fuse-abi.js';
import { direntSize } from './fuse-abi.js';
import { FsError, type Entry, type FileSystem } from './fuse-session.js';
import { buildLayout, layoutEntry, type LayoutDir, type LayoutEntry } from './layout.js';

/** How old the snapshot list may be when a layout directory is read before it is listed again. */
export const SNAPSHOT_TTL_MS = 5_000;
/** Layout entries change when snapshots come and go; snapshot contents never change. */
const LAYOUT_VALID = { entryMs: 1_000, attrMs: 1_000 };
const TREE_VALID = { entryMs: 60_000, attrMs: 60_000 };
/** Directory-entry inode numbers for names not looked up yet (readdir gives the kernel no reference to keep). */
const UNLOOKED_INO_BASE = 1n << 48n;

export type MountRepo = Pick<Repository, 'loadBlob' | 'index' | 'listNames' | 'loadUnpacked' | 'loadIndex' | 'warn'>;

export interface SnapshotFsOptions {
  filter: SnapshotFilter;
  pathTemplates: string[];
  timeTemplate: string;
  ownerRoot: boolean;
  cacheBytes: number;
  warn: (line: string) => void;
}

interface LayoutInode {
  kind: 'layout';
  ino: bigint;
  parts: string[];
}
interface NodeInode {
  kind: 'node';
  ino: bigint;
  node: TreeNode;
  snapshot: string;
  path: string; // inside the snapshot, for messages and the depth bound
  key: string;
  lookups: number;
  children?: Promise<Children>;
}

/** A snapshot directory's readable nodes, in stored order and by name. */
interface Children {
  list: TreeNode[];
  byName: Map<string, TreeNode>;
}
type Inode = LayoutInode | NodeInode;

interface DirItem {
  name: Buffer;
  ino: bigint;
  mode: number;
}

const TYPE_BITS: Record<TreeNode['type'], number> = {
  file: S_IFREG,
  dir: S_IFDIR,
  symlink: S_IFLNK,
  fifo: S_IFIFO,
  chardev: S_IFCHR,
  blockdev: S_IFBLK,
  socket: S_IFSOCK,
};

function kernelDev(rdev: string | undefined): number {
  if (rdev === undefined || !/^\d+$/.test(rdev)) return 0;
  const [major, minor] = splitDev(rdev).map(Number);
  return ((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

export class SnapshotFs implements FileSystem {
  private readonly inodes = new Map<bigint, Inode>();
  private readonly layoutInos = new Map<string, bigint>();
  private readonly nodeInos = new Map<string, bigint>();
  private nextIno = 2n;
  private readonly files = new Map<bigint, FileContent>();
  private readonly dirs = new Map<bigint, DirItem[]>();
  private nextFh = 1n;
  private readonly cache: BlobCache;
  private readonly readers = new Map<string, ValidatingReader>();
  private readonly roots = new Map<string, Promise<Children>>();
  private readonly known = new Map<string, StoredSnapshot>();
  private readonly damaged = new Set<string>();
  private root: LayoutDir = { kind: 'dir', children: new Map(), timeNs: 0n };
  private listedAt = -Infinity;
  private listing?: Promise<void>;
  private readonly mountedNs = BigInt(Date.now()) * 1_000_000n;
  private readonly uid = process.getuid?.() ?? 0;
  private readonly gid = process.getgid?.() ?? 0;

  constructor(
    private readonly repo: MountRepo,
    private readonly opts: SnapshotFsOptions,
  ) {
    this.cache = new BlobCache(repo, opts.cacheBytes);
    this.inodes.set(1n, { kind: 'layout', ino: 1n, parts: [] });
    this.layoutInos.set('', 1n);
  }

  /** Snapshots shown now (after the filter), oldest first. */
  snapshots: StoredSnapshot[] = [];

  /** Lists snapshots again if the list is older than the TTL (or `force`); loads the index when new ones appeared. */
  async refresh(force = false): Promise<void> {
    if (!force && Date.now() - this.listedAt < SNAPSHOT_TTL_MS) return;
    this.listing ??= this.relist().finally(() => {
      this.listing = undefined;
      this.listedAt = Date.now();
    });
    return this.listing;
  }

  private async relist(): Promise<void> {
    const names = await this.repo.listNames('snapshots');
    let added = false;
    const all: StoredSnapshot[] = [];
    for (const name of names) {
      let sn = this.known.get(name);
      if (sn === undefined && !this.damaged.has(name)) {
        try {
          sn = await loadSnapshot(this.repo, name);
          this.known.set(name, sn);
          added = true;
        } catch (err) {
          if (!isDamagedFile(err)) throw err;
          this.damaged.add(name);
          this.opts.warn(`snapshot file snapshots/${name} is damaged (${errorMessage(err)}) and is not shown`);
        }
      }
      if (sn !== undefined) all.push(sn);
    }
    // A new snapshot's blobs are in index files written before it: read them before showing it.
    if (added && this.listedAt !== -Infinity) await this.repo.loadIndex();
    this.snapshots = sortByTime(all.filter((s) => matchesFilter(s, this.opts.filter)));
    this.root = buildLayout(this.snapshots, this.opts.pathTemplates, this.opts.timeTemplate);
  }

  private inode(ino: bigint): Inode {
    const i = this.inodes.get(ino);
    if (i === undefined) throw new FsError(Errno.ENOENT);
    return i;
  }

  private layoutOf(i: LayoutInode): LayoutEntry {
    const e = layoutEntry(this.root, i.parts);
    if (e === undefined) throw new FsError(Errno.ENOENT); // its snapshot was forgotten
    return e;
  }

  private reader(snapshot: string): ValidatingReader {
    let r = this.readers.get(snapshot);
    if (r === undefined) {
      r = new ValidatingReader(
        (id) => loadTree(this.repo, id),
        (line) => this.opts.warn(line),
        storedTreeShapes(this.repo),
      );
      r.snapshot = snapshot;
      this.readers.set(snapshot, r);
    }
    return r;
  }

  /** The readable nodes of a snapshot directory (a snapshot's root or a tree node), loaded once per inode. */
  private treeChildren(i: Inode): Promise<Children> {
    const children = (snapshot: string, tree: string, path: string) =>
      this.reader(snapshot)
        .nodes(tree, path)
        .then((list) => ({ list, byName: new Map(list.map((n) => [n.name.toString('latin1'), n])) }));
    if (i.kind === 'node') {
      if (i.node.type !== 'dir') throw new FsError(Errno.ENOTDIR);
      const subtree = i.node.subtree;
      i.children ??=
        subtree === undefined
          ? Promise.resolve({ list: [], byName: new Map() })
          : children(i.snapshot, subtree, i.path);
      return i.children;
    }
    const e = this.layoutOf(i);
    if (e.kind !== 'snapshot') throw new FsError(Errno.ENOTDIR);
    let c = this.roots.get(e.snapshot.id);
    if (c === undefined) {
      c = children(e.snapshot.id, e.snapshot.tree, '');
      this.roots.set(e.snapshot.id, c);
    }
    return c;
  }

  private layoutAttr(i: LayoutInode, e: LayoutEntry): Attr {
    const t = e.timeNs > 0n ? e.timeNs : this.mountedNs;
    const sn = e.kind === 'snapshot' ? e.snapshot : undefined;
    const owned = !this.opts.ownerRoot;
    return {
      ino: i.ino,
      size: e.kind === 'link' ? Buffer.byteLength(e.target) : 0,
      mode: e.kind === 'link' ? S_IFLNK | 0o777 : S_IFDIR | 0o555,
      nlink: e.kind === 'link' ? 1 : 2,
      uid: owned ? (sn?.uid ?? this.uid) : 0,
      gid: owned ? (sn?.gid ?? this.gid) : 0,
      rdev: 0,
      mtimeNs: t,
      atimeNs: t,
      ctimeNs: t,
    };
  }

  private nodeAttr(i: NodeInode): Attr {
    const n = i.node;
    const mtime = rfc3339ToNs(n.mtime);
    const size = n.type === 'file' ? (n.size ?? 0) : n.type === 'symlink' ? (n.linktarget?.length ?? 0) : 0;
    return {
      ino: i.ino,
      size,
      mode: TYPE_BITS[n.type] | (n.mode & 0o7777),
      nlink: n.type === 'dir' ? 2 : Math.max(1, n.links ?? 1),
      uid: this.opts.ownerRoot ? 0 : n.uid,
      gid: this.opts.ownerRoot ? 0 : n.gid,
      rdev: kernelDev(n.rdev),
      mtimeNs: mtime,
      atimeNs: n.atime === undefined ? mtime : rfc3339ToNs(n.atime),
      ctimeNs: rfc3339ToNs(n.ctime),
    };
  }

  private entryOf(i: Inode): Entry {
    if (i.kind === 'node') return { attr: this.nodeAttr(i), valid: TREE_VALID };
    return { attr: this.layoutAttr(i, this.layoutOf(i)), valid: LAYOUT_VALID };
  }

  private layoutInode(parts: string[]): LayoutInode {
    const key = parts.join('/');
    let ino = this.layoutInos.get(key);
    if (ino === undefined) {
      ino = this.nextIno++;
      this.layoutInos.set(key, ino);
      this.inodes.set(ino, { kind: 'layout', ino, parts });
    }
    return this.inodes.get(ino) as LayoutInode;
  }

  async lookup(parent: bigint, name: Buffer): Promise<Entry> {
    const p = this.inode(parent);
    if (p.kind === 'layout') {
      await this.refresh();
      const e = this.layoutOf(p);
      if (e.kind === 'dir') {
        const childParts = [...p.parts, name.toString('utf8')];
        if (!e.children.has(childParts[childParts.length - 1])) throw new FsError(Errno.ENOENT);
        return this.entryOf(this.layoutInode(childParts));
      }
    }
    const node = (await this.treeChildren(p)).byName.get(name.toString('latin1'));
    if (node === undefined) throw new FsError(Errno.ENOENT);
    const key = `${parent}/${name.toString('latin1')}`;
    let ino = this.nodeInos.get(key);
    let i = ino === undefined ? undefined : (this.inodes.get(ino) as NodeInode | undefined);
    if (i === undefined) {
      ino = this.nextIno++;
      const snapshot = p.kind === 'node' ? p.snapshot : (this.layoutOf(p) as { snapshot: StoredSnapshot }).snapshot.id;
      const path = `${p.kind === 'node' ? p.path : ''}/${name.toString('utf8')}`;
      i = { kind: 'node', ino, node, snapshot, path, key, lookups: 0 };
      this.inodes.set(ino, i);
      this.nodeInos.set(key, ino);
    }
    i.lookups++;
    return this.entryOf(i);
  }

  forget(ino: bigint, count: number): void {
    const i = this.inodes.get(ino);
    if (i === undefined || i.kind !== 'node') return; // layout inodes are few and kept
    i.lookups -= count;
    if (i.lookups <= 0) {
      this.inodes.delete(ino);
      this.nodeInos.delete(i.key);
    }
  }

  getattr(ino: bigint): Promise<Entry> {
    return Promise.resolve().then(() => this.entryOf(this.inode(ino)));
  }

  readlink(ino: bigint): Promise<Buffer> {
    return Promise.resolve().then(() => {
      const i = this.inode(ino);
      if (i.kind === 'node') {
        if (i.node.type !== 'symlink') throw new FsError(Errno.EINVAL);
        return i.node.linktarget ?? Buffer.alloc(0);
      }
      const e = this.layoutOf(i);
      if (e.kind !== 'link') throw new FsError(Errno.EINVAL);
      return Buffer.from(e.target);
    });
  }

  open(ino: bigint): Promise<bigint> {
    return Promise.resolve().then(() => {
      const i = this.inode(ino);
      if (i.kind !== 'node' || i.node.type !== 'file') throw new FsError(Errno.EISDIR);
      let content: FileContent;
      try {
        content = FileContent.open(this.repo, i.node.content ?? [], this.cache);
      } catch (err) {
        this.opts.warn(`snapshot ${shortId(i.snapshot)} ${i.path}: ${errorMessage(err)}`);
        throw new FsError(Errno.EIO);
      }
      const fh = this.nextFh++;
      this.files.set(fh, content);
      return fh;
    });
  }

  async read(fh: bigint, offset: number, size: number): Promise<Buffer> {
    const f = this.files.get(fh);
    if (f === undefined) throw new FsError(Errno.EBADF);
    return f.read(offset, size);
  }

  release(fh: bigint): void {
    this.files.delete(fh);
  }

  async opendir(ino: bigint): Promise<bigint> {
    const i = this.inode(ino);
    const items: DirItem[] = [
      { name: Buffer.from('.'), ino, mode: S_IFDIR },
      { name: Buffer.from('..'), ino: 1n, mode: S_IFDIR },
    ];
    let e: LayoutEntry | undefined;
    if (i.kind === 'layout') {
      await this.refresh();
      e = this.layoutOf(i);
    }
    if (e?.kind === 'dir') {
      for (const [name, child] of e.children) {
        const known = this.layoutInos.get([...(i as LayoutInode).parts, name].join('/'));
        items.push({
          name: Buffer.from(name),
          ino: known ?? UNLOOKED_INO_BASE + BigInt(items.length),
          mode: child.kind === 'link' ? S_IFLNK : S_IFDIR,
        });
      }
    } else {
      for (const n of (await this.treeChildren(i)).list) {
        const known = this.nodeInos.get(`${ino}/${n.name.toString('latin1')}`);
        items.push({ name: n.name, ino: known ?? UNLOOKED_INO_BASE + BigInt(items.length), mode: TYPE_BITS[n.type] });
      }
    }
    const fh = this.nextFh++;
    this.dirs.set(fh, items);
    return fh;
  }

  readdir(fh: bigint, offset: number, buf: Buffer): number {
    const items = this.dirs.get(fh);
    if (items === undefined) throw new FsError(Errno.EBADF);
    let at = 0;
    for (let k = offset; k < items.length; k++) {
      const it = items[k];
      if (at + direntSize(it.name.length) > buf.length) break;
      at = writeDirent(buf, at, it.ino, k + 1, it.name, it.mode);
    }
    return at;
  }

  releasedir(fh: bigint): void {
    this.dirs.delete(fh);
  }
}
