import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupPaths } from '../../src/archiver/index.js';
import { restoreSnapshot } from '../../src/restorer/index.js';
import { findSnapshot } from '../../src/snapshot/snapshot.js';
import { Repository } from '../../src/repository/repository.js';
import { LocalBackend } from '../../src/backend/local.js';
import { checkRepository } from '../../src/maintenance/check.js';
import { localRepo, PASSWORD, prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { compareTrees, generateTree } from '../helpers/tree-gen.js';
import { treeAt } from '../helpers/snapshot-paths.js';

const SMALL_CHUNKER = { algorithm: 'fastcdc-ronomon' as const, min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 };
const dirs: string[] = [];
const mk = () => {
  const d = tempDir();
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('backup → restore round trip on random trees', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`seed ${seed}: byte-identical with modes, mtimes, symlinks and non-UTF-8 names`, async () => {
      const work = mk();
      const src = path.join(work, 'src');
      generateTree(src, { seed, maxChunk: SMALL_CHUNKER.max, maxDepth: 4, maxEntries: 7 });
      const repo = await localRepo(path.join(work, 'repo'), { chunker: SMALL_CHUNKER, packSize: 4 << 20 });
      const r = await backupPaths(repo, [src], { concurrency: seed % 2 ? 1 : 4 });
      expect(r.warnings).toEqual([]);
      const again = await Repository.open(await LocalBackend.open(path.join(work, 'repo')), PASSWORD);
      const sn = await findSnapshot(again, r.snapshotId!.slice(0, 10));
      const target = path.join(work, 'restore');
      await restoreSnapshot(again, sn, {
        target,
        subPath: work,
        verify: true,
        concurrency: seed % 2 ? 1 : 4,
        workers: seed % 2 ? 0 : 2,
      });
      expect(compareTrees(src, path.join(target, 'src'))).toEqual([]);
      const check = await checkRepository(await Repository.open(again.backend, PASSWORD, { skipIndex: true }), {
        readData: true,
      });
      expect(check.problems).toEqual([]);
    });
  }
});

describe('parallelism', () => {
  it('the same tree gives the same snapshot with 0, 1 and 3 workers and 1 or 8 files at once', async () => {
    const work = mk();
    const src = path.join(work, 'src');
    generateTree(src, { seed: 21, maxChunk: SMALL_CHUNKER.max, maxDepth: 3, maxEntries: 9 });
    fs.writeFileSync(path.join(src, 'large.bin'), randomBuffer(prng(4), 2 * 1024 * 1024 + 3));
    const trees = new Set<string>();
    for (const [workers, concurrency] of [
      [0, 1],
      [1, 8],
      [3, 8],
    ]) {
      // Separate repositories have separate id keys, so tree ids cannot be compared across them: the
      // restored bytes and metadata, blob counts and stored sizes are.
      const repo = await localRepo(path.join(work, `repo-${workers}`), { chunker: SMALL_CHUNKER, workers, format: 1 });
      const r = await backupPaths(repo, [src], { concurrency });
      expect(r.warnings).toEqual([]);
      const sn = await findSnapshot(repo, r.snapshotId!);
      const target = path.join(work, `restore-${workers}`);
      await restoreSnapshot(repo, sn, { target, subPath: work, workers });
      expect(compareTrees(src, path.join(target, 'src'))).toEqual([]);
      trees.add(
        `${r.snapshot.summary!.data_blobs}/${r.snapshot.summary!.total_files_processed}/${r.snapshot.summary!.data_added}`,
      );
    }
    expect(trees.size).toBe(1);
  });
});

describe('dedupe', () => {
  it('a second backup of the same tree adds only a snapshot; identical files are stored once', async () => {
    const work = mk();
    const src = path.join(work, 'src');
    fs.mkdirSync(src);
    const data = randomBuffer(prng(9), 3 * SMALL_CHUNKER.max + 12345);
    fs.writeFileSync(path.join(src, 'a.bin'), data);
    fs.writeFileSync(path.join(src, 'copy-of-a.bin'), data);
    const repo = await localRepo(path.join(work, 'repo'), { chunker: SMALL_CHUNKER });
    const first = await backupPaths(repo, [src]);
    // The copy added nothing: only one copy of the data plus two small tree blobs.
    expect(first.snapshot.summary!.data_added).toBeGreaterThanOrEqual(data.length);
    expect(first.snapshot.summary!.data_added).toBeLessThan(data.length + 4096);
    const repo2 = await Repository.open(repo.backend, PASSWORD);
    const second = await backupPaths(repo2, [src]);
    expect(second.snapshot.summary!.data_blobs).toBe(0);
    // deterministic trees (the root's may differ: the intermediate directories /tmp… change with the system)
    expect(await treeAt(repo2, second.snapshot, src)).toBe(await treeAt(repo, first.snapshot, src));
  });

  it('boundaries survive an insertion: a file with 100 bytes inserted re-stores only a few chunks', async () => {
    const work = mk();
    const src = path.join(work, 'src');
    fs.mkdirSync(src);
    const data = randomBuffer(prng(10), 40 * SMALL_CHUNKER.avg);
    fs.writeFileSync(path.join(src, 'f'), data);
    const repo = await localRepo(path.join(work, 'repo'), { chunker: SMALL_CHUNKER });
    await backupPaths(repo, [src]);
    const mid = data.length >> 1;
    fs.writeFileSync(
      path.join(src, 'f'),
      Buffer.concat([data.subarray(0, mid), Buffer.alloc(100, 7), data.subarray(mid)]),
    );
    const repo2 = await Repository.open(repo.backend, PASSWORD);
    const r = await backupPaths(repo2, [src]);
    expect(r.snapshot.summary!.data_added).toBeLessThan(4 * SMALL_CHUNKER.max);
  });
});

describe('source problems', () => {
  it('a small file that cannot be opened or read on a worker comes back as an error, not a blob', async () => {
    const work = mk();
    const repo = await localRepo(path.join(work, 'repo'));
    expect(repo.sealsFiles).toBe(true);
    const missing = await repo.saveSmallFile(Buffer.from(path.join(work, 'missing')), 1024);
    expect(missing).toMatchObject({ status: 'error', stage: 'open', code: 'ENOENT' });
    const dir = await repo.saveSmallFile(Buffer.from(work), 1024);
    expect(dir).toMatchObject({ status: 'error', stage: 'read', code: 'EISDIR' });
    const big = path.join(work, 'grown');
    fs.writeFileSync(big, Buffer.alloc(5000, 1));
    expect(await repo.saveSmallFile(Buffer.from(big), 4096)).toEqual({ status: 'too-large' });
    const ok = await repo.saveSmallFile(Buffer.from(big), 8192);
    expect(ok).toMatchObject({ status: 'ok', size: 5000, sizeAfter: 5000, newBlobs: 1 });
    const again = await repo.saveSmallFile(Buffer.from(big), 8192);
    expect(again).toMatchObject({ status: 'ok', newBlobs: 0 });
    if (ok.status === 'ok') expect(ok.ids[0].equals(repo.blobId(Buffer.alloc(5000, 1)))).toBe(true);
  });

  it('skips an unreadable file with a warning and still saves the snapshot (none readable: no snapshot, SOURCE)', async () => {
    if (process.getuid?.() === 0) {
      // root reads any file regardless of mode; a dangling path makes the same case
      const work = mk();
      const src = path.join(work, 'src');
      fs.mkdirSync(src);
      fs.writeFileSync(path.join(src, 'ok'), 'fine');
      fs.writeFileSync(path.join(src, 'readable'), 'also fine');
      // Without workers the file is opened on this thread, where the test can make open fail.
      const repo = await localRepo(path.join(work, 'repo'), { workers: 0 });
      const warnings: string[] = [];
      // A FIFO that nobody writes to would block; a file removed between listing and reading is what root can hit.
      const orig = fs.promises.open;
      fs.promises.open = (async (p: any, ...rest: any[]) => {
        if (String(p).endsWith('/ok')) throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
        return (orig as any)(p, ...rest);
      }) as typeof fs.promises.open;
      try {
        const r = await backupPaths(repo, [src], { onWarning: (w) => warnings.push(w.path) });
        expect(r.snapshotId).toBeDefined();
        expect(r.warnings.map((w) => [w.skipped, w.message])).toEqual([[true, 'cannot open: permission denied']]);
        fs.rmSync(path.join(src, 'readable'));
        await expect(backupPaths(repo, [src])).rejects.toMatchObject({
          code: 'SOURCE',
          message: expect.stringMatching(/no source file could be read.*no snapshot was saved/),
        });
        expect(await repo.listNames('snapshots')).toEqual([r.snapshotId]);
      } finally {
        fs.promises.open = orig;
      }
      expect(warnings).toEqual([path.join(src, 'ok')]);
      return;
    }
    const work = mk();
    const src = path.join(work, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'secret'), 'x');
    fs.writeFileSync(path.join(src, 'readable'), 'y');
    fs.chmodSync(path.join(src, 'secret'), 0);
    const repo = await localRepo(path.join(work, 'repo'));
    const r = await backupPaths(repo, [src]);
    expect(r.warnings.map((w) => w.skipped)).toEqual([true]);
    fs.rmSync(path.join(src, 'readable'));
    await expect(backupPaths(repo, [src])).rejects.toMatchObject({ code: 'SOURCE' });
  });

  it('refuses a path that does not exist with a SOURCE error and saves nothing', async () => {
    const work = mk();
    const repo = await localRepo(path.join(work, 'repo'));
    await expect(backupPaths(repo, [path.join(work, 'nope')])).rejects.toMatchObject({ code: 'SOURCE' });
    expect(await repo.listNames('snapshots')).toEqual([]);
  });

  it('an aborted backup saves no snapshot and leaves a repository that checks clean', async () => {
    const work = mk();
    const src = path.join(work, 'src');
    generateTree(src, { seed: 21, maxChunk: SMALL_CHUNKER.max });
    const repo = await localRepo(path.join(work, 'repo'), { chunker: SMALL_CHUNKER });
    const ac = new AbortController();
    let n = 0;
    const p = backupPaths(repo, [src], { signal: ac.signal, onProgress: () => (++n === 2 ? ac.abort() : undefined) });
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'INTERRUPTED' });
    expect(await repo.listNames('snapshots')).toEqual([]);
    const check = await checkRepository(await Repository.open(repo.backend, PASSWORD, { skipIndex: true }), {
      readData: true,
    });
    expect(check.problems).toEqual([]);
  });
});
