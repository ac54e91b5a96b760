// The directory cache lets an incremental backup reuse unchanged directories' tree ids without loading the
// parent's trees. It must never change what a backup stores: with or without it, every snapshot of the
// same source against the same parent has the same root tree.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupPaths, type ArchiverRepo } from '../../src/archiver/index.js';
import type { BackupOptions } from '../../src/archiver/state.js';
import { Repository } from '../../src/repository/repository.js';
import type { StoredSnapshot } from '../../src/snapshot/snapshot.js';
import { localRepo, PASSWORD, prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { generateTree } from '../helpers/tree-gen.js';

const CHUNKER = { algorithm: 'fastcdc-ronomon' as const, min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 };
const dirs: string[] = [];
const cwd = process.cwd();
// Sources are backed up by the relative path "src" from their work folder, so the root tree holds just
// "src" (restic's layout for relative paths) and no intermediate /tmp, whose metadata other tests change.
afterAll(() => {
  process.chdir(cwd);
  dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
});

/** The repository with a count of the tree blobs loaded through it. */
function counting(repo: Repository): { repo: ArchiverRepo; treeLoads: () => number } {
  let loads = 0;
  const wrapped = new Proxy(repo, {
    get(target, prop, receiver) {
      if (prop === 'loadBlob') {
        return (type: string, ...rest: unknown[]) => {
          if (type === 'tree') loads++;
          return (target.loadBlob as (...a: unknown[]) => unknown).call(target, type, ...rest);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { repo: wrapped, treeLoads: () => loads };
}

async function setup(seed: number) {
  const work = tempDir('dir-cache-');
  dirs.push(work);
  const src = path.join(work, 'src');
  process.chdir(work);
  generateTree(src, { seed, maxDepth: 4, maxEntries: 8, maxChunk: CHUNKER.max });
  const repo = await localRepo(path.join(work, 'repo'), { chunker: CHUNKER });
  const cacheDir = path.join(work, 'cache');
  const first = await backupPaths(repo, ['src'], { dirCacheDir: cacheDir });
  const parentOf = (r: Awaited<ReturnType<typeof backupPaths>>): StoredSnapshot =>
    ({ ...r.snapshot, id: r.snapshotId! }) as StoredSnapshot;
  const backup = async (parent: StoredSnapshot, opts: BackupOptions = {}) => {
    const c = counting(await Repository.open(repo.backend, PASSWORD));
    const r = await backupPaths(c.repo, ['src'], { parent, ...opts });
    return { r, treeLoads: c.treeLoads(), parent: parentOf(r) };
  };
  return { work, src, cacheDir, first: parentOf(first), backup };
}

// Not data_blobs: of two backups of the same change into one repository, only the first stores the new blobs.
const countsOf = (r: Awaited<ReturnType<typeof backupPaths>>) => {
  const s = r.snapshot.summary!;
  return [
    s.files_new,
    s.files_changed,
    s.files_unmodified,
    s.dirs_new,
    s.dirs_changed,
    s.dirs_unmodified,
    s.total_files_processed,
    s.total_bytes_processed,
  ];
};

describe('directory cache', () => {
  it('an unchanged tree keeps its root tree and loads only the root tree of the parent', async () => {
    const { cacheDir, first, backup } = await setup(1);
    const cached = await backup(first, { dirCacheDir: cacheDir });
    const plain = await backup(first);
    expect(cached.r.snapshot.tree).toBe(first.tree);
    expect(cached.treeLoads).toBe(1);
    expect(plain.treeLoads).toBeGreaterThan(3);
    expect(countsOf(cached.r)).toEqual(countsOf(plain.r));
    // The record now belongs to the new snapshot; the parent's is gone.
    expect(fs.readdirSync(cacheDir)).toEqual([cached.parent.id]);
  });

  it('gives the same snapshots as comparing trees, round after round of random changes', async () => {
    const { src, cacheDir, first, backup } = await setup(2);
    const rnd = prng(99);
    const allEntries = () =>
      fs.readdirSync(src, { recursive: true, withFileTypes: true }).map((e) => path.join(e.parentPath, e.name));
    let parent = first;
    for (let round = 0; round < 8; round++) {
      const entries = allEntries();
      for (let k = 0; k < 3; k++) {
        const target = entries[Math.floor(rnd() * entries.length)];
        const st = fs.lstatSync(target, { throwIfNoEntry: false });
        if (!st) continue;
        const what = Math.floor(rnd() * 5);
        if (st.isFile() && what === 0) fs.appendFileSync(target, randomBuffer(rnd, 100));
        else if (st.isFile() && what === 1) fs.rmSync(target);
        else if (what === 2) fs.chmodSync(target, st.isDirectory() ? 0o750 : 0o640);
        else if (st.isDirectory() && what === 3)
          fs.writeFileSync(path.join(target, `new-${round}`), randomBuffer(rnd, 5000));
        else if (st.isDirectory() && what === 4 && target !== src) fs.renameSync(target, `${target}-moved${round}`);
      }
      const cached = await backup(parent, { dirCacheDir: cacheDir });
      const plain = await backup(parent);
      expect(cached.r.snapshot.tree, `round ${round}`).toBe(plain.r.snapshot.tree);
      expect(countsOf(cached.r), `round ${round}`).toEqual(countsOf(plain.r));
      parent = cached.parent;
    }
  });

  it('ignores a damaged record and is not used with force, ignore-ctime or ignore-inode', async () => {
    const { cacheDir, first, backup } = await setup(3);
    const file = path.join(cacheDir, first.id);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 40] ^= 1;
    fs.writeFileSync(file, bytes);
    const damaged = await backup(first, { dirCacheDir: cacheDir });
    expect(damaged.treeLoads).toBeGreaterThan(3);
    expect(damaged.r.snapshot.tree).toBe(first.tree);
    for (const flag of ['force', 'ignoreCtime', 'ignoreInode'] as const) {
      const r = await backup(damaged.parent, { dirCacheDir: cacheDir, [flag]: true });
      expect(r.treeLoads, flag).toBeGreaterThan(3);
    }
  });
});
