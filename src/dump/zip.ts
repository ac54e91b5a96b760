// A directory of a snapshot as a zip stream (yazl; entries stored, not deflated, like the tar download), for
// `repo ui`'s "Download as .zip". Files are read lazily, one at a time, through the same writer as `repo dump`
// (./dump.ts).
// Must never write an entry name that is absolute or holds "..": names are joined from tree names that
// tree/validate.ts accepted (never empty, ".", ".." or holding "/" or NUL), below the downloaded directory.

import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { displayName, type TreeNode } from '../tree/node.js';
import { archiveReader, archiveTop, writeFile, type ArchiveWriter } from './dump.js';

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

function mtimeOf(node: TreeNode): Date {
  const t = Date.parse(node.mtime);
  return new Date(Number.isNaN(t) ? 0 : t);
}

/**
 * Writes the node at `resolved` (a directory, or the snapshot root) as a zip to `out`. Refused nodes go to
 * `warn` and are left out (sockets, devices and FIFOs too: zip has no such entries); returns the refusals.
 */
export const writeZip: ArchiveWriter = async (repo, sn, resolved, path, out, signal, warn) => {
  const { ZipFile } = await import('yazl');
  const reader = await archiveReader(repo, sn, resolved, warn);
  if (typeof reader === 'number') return reader;
  const zip = new ZipFile();
  const done = pipeline(zip.outputStream, out as NodeJS.WritableStream & { end(): void });

  const entry = async (node: TreeNode, name: string, treeId: string): Promise<void> => {
    const mtime = mtimeOf(node);
    if (node.type === 'dir') {
      zip.addEmptyDirectory(name, { mtime, mode: S_IFDIR | node.mode });
      if (node.subtree !== undefined)
        for (const child of await reader.nodes(node.subtree, '/' + name))
          await entry(child, `${name}/${displayName(child.name)}`, node.subtree);
    } else if (node.type === 'file') {
      zip.addReadStreamLazy(name, { mtime, mode: S_IFREG | node.mode, size: node.size, compress: false }, (cb) => {
        const stream = new PassThrough();
        cb(null, stream);
        writeFile(repo, node, '/' + name, stream, signal).then(
          () => stream.end(),
          (err: unknown) => stream.destroy(err instanceof Error ? err : new Error(String(err))),
        );
      });
    } else if (node.type === 'symlink') {
      zip.addBuffer(node.linktarget ?? Buffer.alloc(0), name, { mtime, mode: S_IFLNK | 0o777, compress: false });
    } else {
      reader.refuse(`${'/' + name}: tree ${treeId}: a ${node.type} has no zip entry, left out`);
    }
  };

  const top = archiveTop(reader, resolved, path);
  if (top === undefined) {
    for (const child of await reader.nodes(sn.tree, '')) await entry(child, displayName(child.name), sn.tree);
  } else {
    for (const n of top) await entry(n, displayName(n.name), resolved.treeId ?? sn.tree);
  }
  zip.end();
  await done;
  return reader.faults;
};
