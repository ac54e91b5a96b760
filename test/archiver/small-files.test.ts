// Small files are read whole on the seal workers, several reads in flight at once. What they store must
// not depend on how reads interleave or on the thread that cuts them, and reading must not change the atime
// a backup records.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupPaths } from '../../src/archiver/index.js';
import { treeAt } from '../helpers/snapshot-paths.js';
import { Repository } from '../../src/repository/repository.js';
import { loadTree } from '../../src/tree/tree-store.js';
import { localRepo, PASSWORD, prng, randomBuffer, tempDir } from '../helpers/repo.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const CHUNKER = { algorithm: 'fastcdc-ronomon' as const, min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 };

function sourceTree(): { work: string; src: string; files: string[] } {
  const work = tempDir('small-files-');
  dirs.push(work);
  const src = path.join(work, 'src');
  fs.mkdirSync(src);
  const rnd = prng(7);
  // Sizes around every edge: empty, below and at the chunker minimum, several chunks, the 64 KiB first
  // read buffer, and just under the 512 KiB small-file limit.
  const sizes = [
    0,
    1,
    100,
    16 * 1024 - 1,
    16 * 1024,
    16 * 1024 + 1,
    64 * 1024 - 1,
    64 * 1024,
    64 * 1024 + 1,
    300_000,
    512 * 1024 - 1,
  ];
  for (let i = 0; i < 60; i++) sizes.push(Math.floor(rnd() * 200_000));
  const files = sizes.map((n, i) => {
    const f = path.join(src, `f${String(i).padStart(3, '0')}`);
    fs.writeFileSync(f, randomBuffer(prng(100 + i), n));
    return f;
  });
  return { work, src, files };
}

async function contentOf(repo: Repository, treeId: string, name: string): Promise<Buffer> {
  const dir = await loadTree(repo, treeId);
  const node = dir.nodes.find((n) => n.name.toString() === name)!;
  const parts = await Promise.all((node.content ?? []).map((id) => repo.loadBlob('data', Buffer.from(id, 'hex'))));
  return Buffer.concat(parts);
}

describe('small files read on the seal workers', () => {
  it('store exactly what the files hold, the same ids as without workers, and leave atimes alone', async () => {
    const { work, src, files } = sourceTree();
    const old = new Date('2001-02-03T04:05:06Z');
    // atime older than mtime: a plain read under relatime would update it; O_NOATIME must keep it.
    for (const f of files) fs.utimesSync(f, old, fs.statSync(f).mtime);
    const withWorkers = await localRepo(path.join(work, 'a'), { chunker: CHUNKER, format: 1 });
    expect(withWorkers.sealsFiles).toBe(true);
    const a = await backupPaths(withWorkers, [src]);
    for (const f of files) expect(fs.statSync(f).atime.getTime()).toBe(old.getTime());
    const reopened = await Repository.open(withWorkers.backend, PASSWORD);
    for (const f of files)
      expect(
        (await contentOf(reopened, await treeAt(reopened, a.snapshot, src), path.basename(f))).equals(
          fs.readFileSync(f),
        ),
      ).toBe(true);

    // The same tree with the chunker on the main thread (no workers): the same cuts, so blobs of the same sizes.
    const inline = await localRepo(path.join(work, 'b'), { chunker: CHUNKER, workers: 0, format: 1 });
    expect(inline.sealsFiles).toBe(false);
    const b = await backupPaths(inline, [src]);
    const sizes = async (repo: Repository, tree: string) => {
      const dir = await loadTree(repo, tree);
      return Promise.all(
        dir.nodes.map(async (n) =>
          Promise.all(
            (n.content ?? []).map(async (id) => (await repo.loadBlob('data', Buffer.from(id, 'hex'))).length),
          ),
        ),
      );
    };
    const sa = await sizes(reopened, await treeAt(reopened, a.snapshot, src));
    expect(sa.some((s) => s.length > 1)).toBe(true); // some files are cut into several chunks
    expect(sa).toEqual(await sizes(inline, await treeAt(inline, b.snapshot, src)));
  });
});
