// copySnapshots: re-identifies every blob for the destination's id key, stores only what is missing,
// keeps snapshot metadata with `original`, skips snapshots already copied, and restores byte-identically.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupPaths } from '../../src/archiver/index.js';
import { checkRepository } from '../../src/maintenance/check.js';
import { copySnapshots, isCopyOf } from '../../src/maintenance/copy.js';
import { Repository } from '../../src/repository/repository.js';
import { restoreSnapshot } from '../../src/restorer/index.js';
import { listSnapshots } from '../../src/snapshot/snapshot.js';
import { tagSnapshots } from '../../src/snapshot/tag.js';
import { CountingBackend } from '../helpers/counting-backend.js';
import { memoryRepo, PASSWORD, prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { compareTrees, generateTree } from '../helpers/tree-gen.js';

const SMALL_CHUNKER = { algorithm: 'fastcdc-ronomon' as const, min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 };
const dirs: string[] = [];
const mk = () => {
  const d = tempDir('repo-copy-');
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function restoreAndCompare(repo: Repository, snapshotId: string, src: string): Promise<void> {
  const sn = (await listSnapshots(repo)).find((s) => s.id === snapshotId)!;
  const target = path.join(mk(), 'out');
  await restoreSnapshot(repo, sn, { target, subPath: path.dirname(src), verify: true });
  expect(compareTrees(src, path.join(target, path.basename(src)))).toEqual([]);
}

describe('copySnapshots', () => {
  it('copies into a repository with another id key: restores byte-identically, keeps metadata, records original, drops parent', async () => {
    const work = mk();
    const src = path.join(work, 'src');
    generateTree(src, { seed: 5, maxChunk: SMALL_CHUNKER.max, maxDepth: 3, maxEntries: 6 });
    const a = (await memoryRepo({ chunker: SMALL_CHUNKER, workers: 0 })).repo;
    const first = await backupPaths(a, [src], { tags: ['daily', 'x'], host: 'laptop' });
    const second = await backupPaths(a, [src], {
      tags: ['daily'],
      host: 'laptop',
      parent: { ...first.snapshot, id: first.snapshotId! },
    });
    expect(second.snapshot.parent).toBe(first.snapshotId);
    const b = (await memoryRepo({ workers: 0 })).repo;
    expect(a.key.idKey.equals(b.key.idKey)).toBe(false);

    const r = await copySnapshots(a, b, await listSnapshots(a));
    expect(r.copied.map((c) => c.source)).toEqual([first.snapshotId, second.snapshotId]);
    expect(r.skipped).toEqual([]);
    expect(r.dataBlobsAdded).toBeGreaterThan(0);
    // The second snapshot is the same tree: every blob was read once for both.
    expect(r.blobsRead).toBe(r.dataBlobsAdded);

    const copies = await listSnapshots(b);
    expect(copies).toHaveLength(2);
    for (const [i, c] of copies.entries()) {
      const orig = i === 0 ? first.snapshot : second.snapshot;
      expect(c.original).toBe(i === 0 ? first.snapshotId : second.snapshotId);
      expect(c.parent).toBeUndefined();
      expect(c.time).toBe(orig.time);
      expect(c.hostname).toBe('laptop');
      expect(c.paths).toEqual(orig.paths);
      expect(c.tags).toEqual(orig.tags);
      expect(c.summary).toEqual(orig.summary);
      expect(c.tree).not.toBe(orig.tree); // re-identified with b's id key
      expect(isCopyOf(c, orig)).toBe(true);
      await restoreAndCompare(b, c.id, src);
    }
    const check = await checkRepository(await Repository.open(b.backend, PASSWORD, { skipIndex: true, workers: 0 }), {
      readData: true,
    });
    expect(check.problems).toEqual([]);
  });

  it('a second run copies nothing; a new source snapshot is copied without reading unchanged files again', async () => {
    const work = mk();
    const src = path.join(work, 'src');
    fs.mkdirSync(src);
    const rand = prng(11);
    for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(src, `f${i}.bin`), randomBuffer(rand, 300_000));
    const a = (await memoryRepo({ chunker: SMALL_CHUNKER, workers: 0 })).repo;
    const s1 = await backupPaths(a, [src]);
    const b = (await memoryRepo({ workers: 0 })).repo;
    const r1 = await copySnapshots(a, b, await listSnapshots(a));
    expect(r1.copied).toHaveLength(1);

    // Second run, fresh handles (a new process): nothing read, nothing stored.
    const counting = new CountingBackend(a.backend);
    const a2 = await Repository.open(counting, PASSWORD, { workers: 0 });
    const b2 = await Repository.open(b.backend, PASSWORD, { workers: 0 });
    const bPacks = (await b2.listNames('data')).length;
    const r2 = await copySnapshots(a2, b2, await listSnapshots(a2));
    expect(r2.copied).toEqual([]);
    expect(r2.skipped).toEqual([{ source: s1.snapshotId, destination: r1.copied[0].destination }]);
    expect(r2.blobsRead).toBe(0);
    expect(counting.get('load', 'data')).toBe(0);
    expect((await b2.listNames('data')).length).toBe(bPacks);
    expect(await listSnapshots(b2)).toHaveLength(1);

    // One file changes; the next copy (again a new process) reads only that file's blobs from the source.
    fs.writeFileSync(path.join(src, 'f0.bin'), randomBuffer(rand, 300_000));
    const s2 = await backupPaths(a2, [src], { parent: { ...s1.snapshot, id: s1.snapshotId! } });
    const changedBlobs = s2.snapshot.summary!.data_blobs;
    expect(changedBlobs).toBeGreaterThan(0);
    const a3 = await Repository.open(a.backend, PASSWORD, { workers: 0 });
    const b3 = await Repository.open(b.backend, PASSWORD, { workers: 0 });
    const r3 = await copySnapshots(a3, b3, await listSnapshots(a3));
    expect(r3.copied.map((c) => c.source)).toEqual([s2.snapshotId]);
    expect(r3.blobsRead).toBe(changedBlobs);
    expect(r3.dataBlobsAdded).toBe(changedBlobs);
    await restoreAndCompare(b3, r3.copied[0].destination, src);
  });

  it('skips by original id and metadata: a copy of a copy is recognised; a retagged copy is not a copy any more', async () => {
    const work = mk();
    const src = path.join(work, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'x.txt'), 'hello\n');
    const a = (await memoryRepo({ workers: 0 })).repo;
    const s = await backupPaths(a, [src]);
    const b = (await memoryRepo({ workers: 0 })).repo;
    const c = (await memoryRepo({ workers: 0 })).repo;
    await copySnapshots(a, b, await listSnapshots(a));
    // b → c, then a → c: c already holds a copy of a's snapshot (same original).
    const bc = await copySnapshots(b, c, await listSnapshots(b));
    expect(bc.copied).toHaveLength(1);
    expect((await listSnapshots(c))[0].original).toBe(s.snapshotId);
    const ac = await copySnapshots(a, c, await listSnapshots(a));
    expect(ac.copied).toEqual([]);
    expect(ac.skipped).toHaveLength(1);

    // Retag the copy in c: it no longer matches, so the source snapshot is copied again (as restic does).
    await tagSnapshots(c, await listSnapshots(c), { add: ['changed'] });
    const again = await copySnapshots(a, c, await listSnapshots(a));
    expect(again.copied).toHaveLength(1);
    expect(again.dataBlobsAdded).toBe(0); // the data is there already
  });

  it('shares blobs when both repositories have the same chunker: a backup into the copy deduplicates against copied data', async () => {
    const work = mk();
    const src = path.join(work, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'big.bin'), randomBuffer(prng(3), 2_000_000));
    const a = (await memoryRepo({ chunker: SMALL_CHUNKER, workers: 0 })).repo;
    await backupPaths(a, [src]);
    const b = (await memoryRepo({ chunker: { ...a.config.chunker }, workers: 0 })).repo;
    await copySnapshots(a, b, await listSnapshots(a));
    const b2 = await Repository.open(b.backend, PASSWORD, { workers: 0 }); // fresh write statistics
    const r = await backupPaths(b2, [src], { force: true });
    expect(r.snapshot.summary!.data_added).toBe(0);
  });

  it('refuses to copy a repository into itself, and stops when interrupted', async () => {
    const { repo: a } = await memoryRepo({ workers: 0 });
    const same = await Repository.open(a.backend, PASSWORD, { workers: 0 });
    await expect(copySnapshots(a, same, [])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });

    const src = path.join(mk(), 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'f'), randomBuffer(prng(1), 100_000));
    await backupPaths(a, [src]);
    const b = (await memoryRepo({ workers: 0 })).repo;
    const ac = new AbortController();
    ac.abort();
    await expect(copySnapshots(a, b, await listSnapshots(a), { signal: ac.signal })).rejects.toMatchObject({
      code: 'INTERRUPTED',
    });
    expect(await listSnapshots(b)).toEqual([]);
  });
});
