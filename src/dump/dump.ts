// The bytes of a snapshot's contents as streams: a file blob by blob, a directory as tar. `repo dump` writes them
// to standard output and `repo ui` sends them (and zip, ./zip.ts, built on writeFile) as downloads, so a
// download and a dump are the same bytes. Streams with a small read-ahead and back-pressure; a file is never
// held in memory whole.

import { RepoError } from '../core/errors.js';
import { idFromHex } from '../core/id.js';
import { writeTo } from '../core/stream-write.js';
import type { Repository } from '../repository/repository.js';
import { splitDev, type ResolvedPath } from '../restorer/index.js';
import type { StoredSnapshot } from '../snapshot/snapshot.js';
import { displayName, type TreeNode } from '../tree/node.js';
import { rfc3339ToNs } from '../tree/time.js';
import { loadTree, storedTreeShapes } from '../tree/tree-store.js';
import { describeFault, readableNodes } from '../tree/validate.js';
import { ValidatingReader } from '../tree/validate-reader.js';
import { encodeHeader, endOfArchive, padding, TarNameGuard, type TarType } from './tar.js';

const READ_AHEAD = 4;

/** The plaintext blobs of a file, in order, loading up to READ_AHEAD ahead. */
async function* fileBlobs(repo: Repository, content: string[], signal: AbortSignal): AsyncIterable<Buffer> {
  const pending: Promise<Buffer>[] = [];
  let next = 0;
  const start = () => {
    const p = repo.loadBlob('data', idFromHex(content[next++]));
    p.catch(() => undefined); // awaited below; this only keeps an early failure from being "unhandled"
    pending.push(p);
  };
  while (next < content.length && pending.length < READ_AHEAD) start();
  while (pending.length > 0) {
    if (signal.aborted) throw new RepoError('INTERRUPTED', 'dump interrupted');
    const buf = await pending.shift()!;
    if (next < content.length) start();
    yield buf;
  }
}

/** The content length from the index, so a tar header can be written before the first blob is read; undefined names a blob the index lacks. */
function contentLength(repo: Repository, node: TreeNode): number | { missing: string } {
  let n = 0;
  for (const hex of node.content ?? []) {
    const loc = repo.index.lookup('data', idFromHex(hex));
    if (loc === undefined) return { missing: hex };
    n += loc.rawLength;
  }
  return n;
}

/**
 * Writes a file's content blob by blob to `out`. With `expected` (the length the index promised, already written
 * in a tar header), a different length is an INTEGRITY error.
 */
export async function writeFile(
  repo: Repository,
  node: TreeNode,
  path: string,
  out: NodeJS.WritableStream,
  signal: AbortSignal,
  expected?: number,
): Promise<void> {
  let written = 0;
  for await (const buf of fileBlobs(repo, node.content ?? [], signal)) {
    await writeTo(out, buf);
    written += buf.length;
  }
  if (expected !== undefined && written !== expected) {
    throw new RepoError('INTEGRITY', `${path}: the index promised ${expected} bytes, the blobs held ${written}`, {
      path,
    });
  }
}

function floorSeconds(ns: bigint): number {
  return Number(ns >= 0n ? ns / 1_000_000_000n : -((-ns + 999_999_999n) / 1_000_000_000n));
}

const TAR_TYPES: Partial<Record<TreeNode['type'], TarType>> = {
  file: 'file',
  dir: 'dir',
  symlink: 'symlink',
  fifo: 'fifo',
  chardev: 'chardev',
  blockdev: 'blockdev',
};

/**
 * Writes the tar stream. Every member name is a path of names tree/validate.ts accepted (never empty, ".", ".."
 * or holding "/" or NUL, unique in their tree), joined below directory members written just before, so no name
 * starts with "/", holds "..", or runs through a symlink member; TarNameGuard checks that again per member.
 * Refused nodes, unindexed files and trees beyond the bounds are each one line on standard error, and the rest
 * of the archive is still written.
 */
async function writeTar(
  repo: Repository,
  reader: ValidatingReader,
  top: { node: TreeNode; name: Buffer; tree?: string }[] | undefined,
  rootTree: string,
  signal: AbortSignal,
  out: NodeJS.WritableStream,
): Promise<void> {
  const hardlinks = new Map<string, Buffer>();
  const guard = new TarNameGuard();
  const entry = async (node: TreeNode, name: Buffer, treeId: string): Promise<void> => {
    if (signal.aborted) throw new RepoError('INTERRUPTED', 'dump interrupted');
    let type = TAR_TYPES[node.type];
    if (type === undefined) return; // sockets cannot be archived
    const shown = '/' + displayName(name);
    const refusal = guard.refusal(name, node.type);
    if (refusal !== undefined) {
      reader.refuse(`${shown}: tree ${treeId}: ${refusal}`);
      return;
    }
    let linkname: Buffer | undefined;
    let size = 0;
    let hardlinkKey: string | undefined;
    if (node.type === 'file') {
      const key =
        node.links !== undefined && node.links > 1 && node.inode !== undefined && node.deviceId !== undefined
          ? `${node.deviceId}:${node.inode}`
          : undefined;
      const first = key === undefined ? undefined : hardlinks.get(key);
      if (first !== undefined) {
        type = 'hardlink';
        linkname = first;
      } else {
        const length = contentLength(repo, node);
        if (typeof length !== 'number') {
          reader.refuse(
            `${shown}: tree ${treeId} node ${JSON.stringify(displayName(node.name))}: data blob ${length.missing} is not in the index, file left out`,
          );
          return;
        }
        size = length;
        hardlinkKey = key;
      }
    } else if (node.type === 'symlink') {
      linkname = node.linktarget ?? Buffer.alloc(0);
    }
    let devmajor: number | undefined;
    let devminor: number | undefined;
    if ((node.type === 'chardev' || node.type === 'blockdev') && node.rdev !== undefined && /^\d+$/.test(node.rdev)) {
      [devmajor, devminor] = splitDev(node.rdev).map(Number);
    }
    guard.written(name, node.type);
    await writeTo(
      out,
      encodeHeader({
        name,
        type,
        mode: node.mode,
        uid: node.uid,
        gid: node.gid,
        uname: node.user,
        gname: node.group,
        mtime: floorSeconds(rfc3339ToNs(node.mtime)),
        size,
        linkname,
        devmajor,
        devminor,
      }),
    );
    if (type === 'file') {
      // Only a member actually written may be the target of later hard-link members.
      if (hardlinkKey !== undefined) hardlinks.set(hardlinkKey, name);
      await writeFile(repo, node, shown, out, signal, size);
      const pad = padding(size);
      if (pad.length > 0) await writeTo(out, pad);
    }
    if (node.type === 'dir' && node.subtree !== undefined) await children(node.subtree, name);
  };
  const children = async (treeId: string, prefix: Buffer | undefined): Promise<void> => {
    for (const child of await reader.nodes(treeId, prefix === undefined ? '' : '/' + displayName(prefix))) {
      await entry(
        child,
        prefix === undefined ? child.name : Buffer.concat([prefix, Buffer.from('/'), child.name]),
        treeId,
      );
    }
  };
  if (top === undefined) await children(rootTree, undefined);
  else for (const t of top) await entry(t.node, t.name, t.tree ?? rootTree);
  await writeTo(out, endOfArchive());
}

/**
 * The tree reader an archive (tar here, zip in ./zip.ts) of `resolved` reads through, refusals going to `warn`;
 * or, when the tree is beyond the expansion bounds, the fault count to return without writing anything (a
 * truncated archive would look whole).
 */
export async function archiveReader(
  repo: Repository,
  sn: StoredSnapshot,
  resolved: ResolvedPath,
  warn: (line: string) => void,
): Promise<ValidatingReader | number> {
  const reader = new ValidatingReader((id) => loadTree(repo, id), warn, storedTreeShapes(repo));
  reader.snapshot = sn.id;
  if (!(await reader.withinBounds(resolved.treeId ?? sn.tree))) return Math.max(reader.faults, 1);
  return reader;
}

/** The nodes an archive of `resolved` starts from: undefined for the snapshot root, else the node if readable. */
export function archiveTop(reader: ValidatingReader, resolved: ResolvedPath, path: string): TreeNode[] | undefined {
  if (resolved.node === undefined) return undefined;
  return readableNodes({ nodes: [resolved.node] }, `holding ${path}`, (f) => reader.refuse(describeFault(f)));
}

/**
 * Writes the node at `resolved` (`path` in snapshot `sn`) as an archive to `out`. Refused nodes go to `warn`
 * and are left out; returns their count. Nothing is written when the tree is beyond the expansion bounds.
 * Tar here (writeArchive), zip in ./zip.ts: `repo ui` picks one.
 */
export type ArchiveWriter = (
  repo: Repository,
  sn: StoredSnapshot,
  resolved: ResolvedPath,
  path: string,
  out: NodeJS.WritableStream,
  signal: AbortSignal,
  warn: (line: string) => void,
) => Promise<number>;

/** The directory (or other non-file node) at `path` of a snapshot as a tar stream: `repo dump`'s archive. */
export const writeArchive: ArchiveWriter = async (repo, sn, resolved, path, out, signal, warn) => {
  const reader = await archiveReader(repo, sn, resolved, warn);
  if (typeof reader === 'number') return reader;
  const top = archiveTop(reader, resolved, path)?.map((n) => ({ node: n, name: n.name }));
  await writeTar(repo, reader, top, sn.tree, signal, out);
  return reader.faults;
};
