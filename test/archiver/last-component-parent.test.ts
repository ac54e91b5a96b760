// Snapshots written before full paths (the last-component layout, spec §10) stay readable, restorable and
// usable as parents: the first full-path backup after them must not read an unchanged file again, with or
// without the directory cache. The old layout is forged exactly as the previous writer made it: the same
// nodes, each backed-up path's node renamed to its last component under the root, no tree_layout.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupPaths, findParent, type ArchiverRepo } from '../../src/archiver/index.js';
import { LocalBackend } from '../../src/backend/local.js';
import { Repository } from '../../src/repository/repository.js';
import { resolveSnapshotPath, restoreSnapshot, storedPath } from '../../src/restorer/index.js';
import {
  listSnapshots,
  saveSnapshot,
  treeLayout,
  type Snapshot,
  type StoredSnapshot,
} from '../../src/snapshot/snapshot.js';
import { loadTree, saveTree } from '../../src/tree/tree-store.js';
import { localRepo, PASSWORD, prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { treeAt } from '../helpers/snapshot-paths.js';

const CHUNKER = { algorithm: 'fastcdc-ronomon' as const, min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 };
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** The repository with a count of the tree blobs loaded through it (as in dir-cache.test.ts). */
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

/** Rewrites a full-layout snapshot as the last-component writer stored it; returns the forged snapshot. */
async function forgeLastComponent(repo: Repository, sn: Snapshot): Promise<StoredSnapshot> {
  const nodes = [];
  for (const p of sn.paths) {
    const { node } = await resolveSnapshotPath(repo, sn, p);
    nodes.push({ ...node!, name: Buffer.from(path.basename(p)) });
  }
  const root = await saveTree(repo, nodes);
  const { tree_layout: _layout, ...rest } = sn;
  const forged = { ...rest, tree: root.id, time: new Date(Date.parse(sn.time) + 1000).toISOString() };
  await repo.flush();
  return { ...forged, id: await saveSnapshot(repo, forged) };
}

/** Gives a directory-cache record written for snapshot `from` to snapshot `to`, as if `to`'s backup had written it. */
function moveCacheRecord(repo: Repository, cacheDir: string, from: string, to: string): void {
  const bytes = fs.readFileSync(path.join(cacheDir, from));
  bytes.write(to, 'repo dir cache 1\n'.length, 'hex');
  repo.blobId(bytes.subarray(0, bytes.length - 32)).copy(bytes, bytes.length - 32);
  fs.writeFileSync(path.join(cacheDir, to), bytes);
  fs.rmSync(path.join(cacheDir, from));
}

async function setup() {
  const work = tempDir('last-component-');
  dirs.push(work);
  const src = path.join(work, 'deep', 'src');
  for (let d = 0; d < 3; d++) {
    fs.mkdirSync(path.join(src, `d${d}`), { recursive: true });
    for (let i = 0; i < 4; i++)
      fs.writeFileSync(path.join(src, `d${d}`, `f${i}`), randomBuffer(prng(d * 10 + i), 50_000 + i * 1000));
  }
  fs.writeFileSync(path.join(src, 'top.txt'), 'top\n');
  const repo = await localRepo(path.join(work, 'repo'), { chunker: CHUNKER });
  const cacheDir = path.join(work, 'cache');
  const full = await backupPaths(repo, [src], { dirCacheDir: cacheDir });
  const fullSn = { ...full.snapshot, id: full.snapshotId! };
  const legacy = await forgeLastComponent(repo, fullSn);
  moveCacheRecord(repo, cacheDir, fullSn.id, legacy.id);
  return { work, src, repo, cacheDir, fullSn, legacy };
}

describe('snapshots in the last-component layout', () => {
  it('are told apart by tree_layout and resolve both the backed-up path and the stored one', async () => {
    const { repo, src, fullSn, legacy } = await setup();
    expect([treeLayout(fullSn), treeLayout(legacy)]).toEqual(['full', 'last-component']);
    expect((await loadTree(repo, legacy.tree)).nodes.map((n) => n.name.toString())).toEqual(['src']);
    expect(storedPath(legacy, `${src}/d1/f2`)).toBe('/src/d1/f2');
    expect(storedPath(legacy, '/src/d1/f2')).toBe('/src/d1/f2');
    expect(storedPath(fullSn, `${src}/d1/f2`)).toBe(`${src}/d1/f2`);
    const a = await resolveSnapshotPath(repo, legacy, `${src}/d1/f2`);
    const b = await resolveSnapshotPath(repo, fullSn, `${src}/d1/f2`);
    expect(a.node!.content).toEqual(b.node!.content);
    const target = path.join(path.dirname(src), 'out');
    await restoreSnapshot(repo, legacy, { target, subPath: `${src}/d1` });
    expect(fs.readFileSync(path.join(target, 'f2')).equals(fs.readFileSync(path.join(src, 'd1', 'f2')))).toBe(true);
  });

  it('as the parent of a full-path backup: no file is read again, no data blob added, the same source tree', async () => {
    const { repo, src, fullSn, legacy } = await setup();
    const r = await Repository.open(
      await LocalBackend.open(path.join(path.dirname(path.dirname(src)), 'repo')),
      PASSWORD,
    );
    const parent = await findParent(r, { hostname: legacy.hostname, paths: [src] });
    expect(parent?.id).toBe(legacy.id); // the newest snapshot of the same paths
    const next = await backupPaths(r, [src], { parent });
    const s = next.snapshot.summary!;
    expect([s.files_new, s.files_changed, s.files_unmodified]).toEqual([0, 0, 13]);
    expect([s.data_blobs, s.dirs_new]).toEqual([0, 3]); // the intermediate directories are new to the parent
    expect(next.snapshot.tree_layout).toBe('full');
    expect(await treeAt(r, next.snapshot, src)).toBe(await treeAt(repo, fullSn, src));
  });

  it('with the directory cache its record is used: only the parent root tree is loaded, and the result is the same', async () => {
    const { repo, src, cacheDir, fullSn, legacy } = await setup();
    const open = async () => counting(await Repository.open(repo.backend, PASSWORD));
    const cached = await open();
    const withCache = await backupPaths(cached.repo, [src], { parent: legacy, dirCacheDir: cacheDir });
    const plain = await open();
    const without = await backupPaths(plain.repo, [src], { parent: legacy });
    expect(cached.treeLoads()).toBe(1);
    expect(plain.treeLoads()).toBeGreaterThan(3);
    const fresh = await Repository.open(repo.backend, PASSWORD);
    for (const r of [withCache, without]) {
      const s = r.snapshot.summary!;
      expect([s.files_new, s.files_changed, s.files_unmodified, s.data_blobs]).toEqual([0, 0, 13, 0]);
      expect(await treeAt(fresh, r.snapshot, src)).toBe(await treeAt(fresh, fullSn, src));
    }
    // The record now belongs to the new (full-layout) snapshot, and serves the next backup as well.
    expect(fs.readdirSync(cacheDir)).toEqual([withCache.snapshotId]);
    const again = await open();
    const third = await backupPaths(again.repo, [src], {
      parent: { ...withCache.snapshot, id: withCache.snapshotId! },
      dirCacheDir: cacheDir,
    });
    expect(third.snapshot.summary!.files_unmodified).toBe(13);
    expect(again.treeLoads()).toBe(1 + src.split('/').length - 2); // the root and each intermediate directory's tree
  });

  it('the fixture repository (format 1, last-component) restores a path given as it was backed up', async () => {
    const copy = path.join(tempDir('fixture-copy-'), 'repo');
    dirs.push(path.dirname(copy));
    fs.cpSync(path.join(path.dirname(new URL(import.meta.url).pathname), '../fixtures/repo-v1'), copy, {
      recursive: true,
    });
    const manifest = JSON.parse(
      fs.readFileSync(path.join(path.dirname(new URL(import.meta.url).pathname), '../fixtures/repo-v1.json'), 'utf8'),
    );
    const repo = await Repository.open(await LocalBackend.open(copy), manifest.password);
    const [sn] = await listSnapshots(repo);
    expect(treeLayout(sn)).toBe('last-component');
    const target = path.join(path.dirname(copy), 'out');
    await restoreSnapshot(repo, sn, { target, subPath: `${sn.paths[0]}/dir/nested` });
    expect(fs.readdirSync(target)).toEqual(['text.md']);
  });
});
