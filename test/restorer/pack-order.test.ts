// Pack-ordered restore: every pack is read once, results do not depend on the number of worker threads,
// and a blob that fails in its pack is taken from another copy (or reported with its path).

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupPaths } from '../../src/archiver/index.js';
import type { Handle } from '../../src/backend/backend.js';
import { LocalBackend } from '../../src/backend/local.js';
import { IntegrityError } from '../../src/core/errors.js';
import { idFromHex } from '../../src/core/id.js';
import { Repository } from '../../src/repository/repository.js';
import { restoreSnapshot } from '../../src/restorer/index.js';
import { findSnapshot } from '../../src/snapshot/snapshot.js';
import { loadTree } from '../../src/tree/tree-store.js';
import { CountingBackend } from '../helpers/counting-backend.js';
import { localRepo, PASSWORD, prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { compareTrees, generateTree } from '../helpers/tree-gen.js';
import { treeAt } from '../helpers/snapshot-paths.js';

const SMALL_CHUNKER = { algorithm: 'fastcdc-ronomon' as const, min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 };
const dirs: string[] = [];
const mk = () => {
  const d = tempDir('pack-order-');
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** Records the data file ranges loaded (ranged loads only: whole files are the tree packs and the index). */
class RangeRecorder extends CountingBackend {
  readonly ranges: { name: string; offset: number; length: number }[] = [];

  override load(h: Handle, opts?: { offset?: number; length?: number; signal?: AbortSignal }): Promise<Buffer> {
    if (h.type === 'data' && opts?.offset !== undefined)
      this.ranges.push({ name: h.name, offset: opts.offset, length: opts.length ?? 0 });
    return super.load(h, opts);
  }
}

/** Flips one bit of a pack file in place (packs are stored read-only). */
function flipByte(repoDir: string, pack: string, at: number): void {
  const file = path.join(repoDir, 'data', pack.slice(0, 2), pack);
  const bytes = fs.readFileSync(file);
  bytes[at] ^= 1;
  fs.chmodSync(file, 0o600);
  fs.writeFileSync(file, bytes);
}

/** A random tree plus a 9 MiB file (spans packs of 4 MiB) and two identical files (one blob, two targets). */
async function backedUpTree(work: string) {
  const src = path.join(work, 'src');
  generateTree(src, { seed: 11, maxChunk: SMALL_CHUNKER.max, maxDepth: 3, maxEntries: 8 });
  const big = randomBuffer(prng(5), 9 * 1024 * 1024 + 17);
  fs.writeFileSync(path.join(src, 'big.bin'), big);
  fs.writeFileSync(path.join(src, 'twin-a'), big.subarray(0, 70_000));
  fs.writeFileSync(path.join(src, 'twin-b'), big.subarray(0, 70_000));
  const repo = await localRepo(path.join(work, 'repo'), { chunker: SMALL_CHUNKER, packSize: 4 << 20 });
  const r = await backupPaths(repo, [src]);
  expect(r.warnings).toEqual([]);
  return { src, snapshotId: r.snapshotId! };
}

describe('pack-ordered restore', () => {
  it('reads each needed byte of a pack once and gives identical results with 0, 1, 3 and the default threads', async () => {
    const work = mk();
    const { src, snapshotId } = await backedUpTree(work);
    for (const workers of [0, 1, 3, undefined]) {
      const counting = new RangeRecorder(await LocalBackend.open(path.join(work, 'repo')));
      const repo = await Repository.open(counting, PASSWORD, { workers: 0 });
      const sn = await findSnapshot(repo, snapshotId);
      counting.ranges.length = 0;
      const target = path.join(work, `restore-${workers}`);
      const result = await restoreSnapshot(repo, sn, { target, subPath: path.dirname(src), workers });
      expect(compareTrees(src, path.join(target, 'src'))).toEqual([]);
      // Tree packs are read while planning, once per tree; the content packs are the ones to count.
      const dataLoads = counting.ranges.filter((l) => !repo.index.packHoldsTrees(l.name));
      expect(new Set(dataLoads.map((l) => l.name)).size).toBeGreaterThanOrEqual(3);
      // Packs of 4 MiB are read in windows of about 1 MiB: several ranges, none overlapping another.
      expect(dataLoads.length).toBeGreaterThan(new Set(dataLoads.map((l) => l.name)).size);
      const sorted = [...dataLoads].sort((a, b) => a.name.localeCompare(b.name) || a.offset - b.offset);
      for (let i = 1; i < sorted.length; i++) {
        if (sorted[i].name !== sorted[i - 1].name) continue;
        expect(sorted[i].offset, `${workers} workers: a byte was read twice`).toBeGreaterThanOrEqual(
          sorted[i - 1].offset + sorted[i - 1].length,
        );
      }
      expect(result.warnings).toBe(0);
    }
  });

  it('files spanning packs are not left behind half written when a pack they share is unreadable', async () => {
    const work = mk();
    const src = path.join(work, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'big1.bin'), randomBuffer(prng(7), 9 * 1024 * 1024));
    fs.writeFileSync(path.join(src, 'big2.bin'), randomBuffer(prng(8), 9 * 1024 * 1024));
    const repoDir = path.join(work, 'repo');
    const a = await localRepo(repoDir, { chunker: SMALL_CHUNKER, packSize: 4 << 20 });
    const { snapshotId } = await backupPaths(a, [src], { concurrency: 1 });
    const repo = await Repository.open(await LocalBackend.open(repoDir), PASSWORD, { workers: 0 });
    const sn = await findSnapshot(repo, snapshotId!);
    const nodes = (await loadTree(repo, await treeAt(repo, sn, src))).nodes;
    const packsOf = (name: string) =>
      new Set(
        nodes
          .find((n) => n.name.toString() === name)!
          .content!.map((c) => repo.index.lookup('data', idFromHex(c))!.pack),
      );
    const shared = [...packsOf('big1.bin')].filter((p) => packsOf('big2.bin').has(p));
    expect(shared.length).toBeGreaterThan(0);
    // Truncated: every blob of the pack fails, in both files; the first file's failure ends the restore.
    const packFile = path.join(repoDir, 'data', shared[0].slice(0, 2), shared[0]);
    fs.chmodSync(packFile, 0o600);
    fs.truncateSync(packFile, 1000);
    for (const workers of [0, 2]) {
      const target = path.join(work, `restore-${workers}`);
      const err = await restoreSnapshot(repo, sn, { target, subPath: path.dirname(src), workers }).catch((e) => e);
      expect(err.message).toMatch(/big1\.bin|big2\.bin/);
      expect(fs.readdirSync(path.join(target, 'src'))).toEqual([]);
    }
  });

  it('restores a blob damaged in one pack from its copy in another pack', async () => {
    const work = mk();
    const src = path.join(work, 'src');
    fs.mkdirSync(src);
    const data = randomBuffer(prng(3), 300_000);
    fs.writeFileSync(path.join(src, 'f.bin'), data);
    const repoDir = path.join(work, 'repo');
    // Two handles that do not see each other's index store the same blobs in two packs.
    const a = await localRepo(repoDir, { chunker: SMALL_CHUNKER });
    const b = await Repository.open(await LocalBackend.open(repoDir), PASSWORD);
    const first = await backupPaths(a, [src]);
    await backupPaths(b, [src], { force: true });
    const repo = await Repository.open(await LocalBackend.open(repoDir), PASSWORD, { workers: 0 });
    const sn = await findSnapshot(repo, first.snapshotId!);
    const file = (await loadTree(repo, await treeAt(repo, sn, src))).nodes.find((n) => n.name.toString() === 'f.bin')!;
    const blob = idFromHex(file.content![0]);
    expect(repo.index.lookupAll('data', blob).length).toBe(2);
    const loc = repo.index.lookup('data', blob)!;
    flipByte(repoDir, loc.pack, loc.offset + 20);

    const target = path.join(work, 'restore');
    await restoreSnapshot(repo, sn, { target, subPath: path.dirname(src), workers: 2 });
    expect(fs.readFileSync(path.join(target, 'src', 'f.bin')).equals(data)).toBe(true);

    // With the other copy damaged too, the error names the file and no partial file is left.
    const other = repo.index.lookupAll('data', blob).find((l) => l.pack !== loc.pack)!;
    flipByte(repoDir, other.pack, other.offset + 20);
    const target2 = path.join(work, 'restore2');
    const err = await restoreSnapshot(repo, sn, { target: target2, subPath: path.dirname(src), workers: 2 }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(IntegrityError);
    expect(err.message).toContain('f.bin');
    expect(fs.existsSync(path.join(target2, 'src', 'f.bin'))).toBe(false);
  });
});
