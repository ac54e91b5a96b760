// Prune run again and again on a repository of small packs with unused data: the first run does the work,
// every later run writes and deletes nothing (counted at the backend and seen in the directory), and the
// figures each run reports agree with what it did to the files.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupPaths } from '../../src/archiver/index.js';
import { LocalBackend } from '../../src/backend/local.js';
import { AAD_INDEX } from '../../src/repository/aad.js';
import { encodeIndex } from '../../src/repository/index-file.js';
import { checkRepository } from '../../src/maintenance/check.js';
import { executePrune, type PruneResult } from '../../src/maintenance/prune-execute.js';
import { parseMaxUnused, planPrune, pruneHasWork, type PrunePlan } from '../../src/maintenance/prune-plan.js';
import { recordsOf } from '../../src/maintenance/repair-packs.js';
import { Repository } from '../../src/repository/repository.js';
import { listSnapshots } from '../../src/snapshot/snapshot.js';
import { CountingBackend } from '../helpers/counting-backend.js';
import { localRepo, PASSWORD, prng, randomBuffer, tempDir } from '../helpers/repo.js';

const CHUNKER = { algorithm: 'fastcdc-ronomon' as const, min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 };
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** Every file of the repository directory with its size, so a run that changes any file shows up. */
function files(dir: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile())
      m.set(path.relative(dir, path.join(e.parentPath, e.name)), fs.statSync(path.join(e.parentPath, e.name)).size);
  }
  return m;
}
const dataBytes = (dir: string) => [...files(dir)].filter(([f]) => f.startsWith('data')).reduce((a, [, n]) => a + n, 0);

/**
 * Five backups, each storing its own data and tree packs, each adding a file; the third drops one. So
 * forgetting the first three leaves packs that are unused, partly used and small. With `large`, the first
 * backup's data pack is not small and a third of it is dropped by the second backup; without, every pack
 * is small, as after many small backups (the reported case).
 */
async function smallPacksRepo(large = true): Promise<{ repoDir: string; backend: CountingBackend }> {
  const work = tempDir();
  dirs.push(work);
  const src = path.join(work, 'src');
  fs.mkdirSync(src);
  const repoDir = path.join(work, 'repo');
  await localRepo(repoDir, { chunker: CHUNKER, packSize: 4 << 20 });
  const rand = prng(7);
  for (let v = 0; v < 5; v++) {
    fs.writeFileSync(
      path.join(src, `f${v}.bin`),
      randomBuffer(rand, large ? (v === 0 ? 1_500_000 : 100_000 + v * 20_000) : 40_000 + v * 10_000),
    );
    fs.writeFileSync(path.join(src, 'day.txt'), `day ${v}\n`);
    if (v === 0) fs.writeFileSync(path.join(src, 'gone.bin'), randomBuffer(rand, large ? 800_000 : 60_000));
    if (v === 1) fs.rmSync(path.join(src, 'gone.bin'));
    if (v === 2) fs.rmSync(path.join(src, 'f1.bin'));
    const repo = await Repository.open(await LocalBackend.open(repoDir), PASSWORD);
    await backupPaths(repo, [src], { time: new Date(Date.UTC(2026, 0, v + 1)) });
    await repo.close();
  }
  const backend = new CountingBackend(await LocalBackend.open(repoDir));
  const snaps = (await listSnapshots(await Repository.open(backend, PASSWORD, { skipIndex: true }))).sort((a, b) =>
    a.time.localeCompare(b.time),
  );
  for (const sn of snaps.slice(0, 3)) await backend.remove({ type: 'snapshots', name: sn.id });
  return { repoDir, backend };
}

async function prune(
  backend: CountingBackend,
  maxUnused: string,
): Promise<{ plan: PrunePlan; result: PruneResult; saves: number; removes: number; snapshotLoads: number }> {
  const repo = await Repository.open(backend, PASSWORD);
  backend.reset();
  const plan = await planPrune(repo, { maxUnused: parseMaxUnused(maxUnused) });
  const result = await executePrune(repo, plan);
  let saves = 0;
  let removes = 0;
  for (const [k, n] of backend.calls) {
    if (k.startsWith('save:')) saves += n;
    if (k.startsWith('remove:')) removes += n;
  }
  return { plan, result, saves, removes, snapshotLoads: backend.get('load', 'snapshots') };
}

describe('prune run repeatedly', () => {
  const cases = [
    ...['0%', '5%', '50%', 'unlimited'].map((maxUnused) => ({ maxUnused, large: true })),
    ...['5%', 'unlimited'].map((maxUnused) => ({ maxUnused, large: false })),
  ];
  for (const { maxUnused, large } of cases) {
    it(`--max-unused ${maxUnused}, ${large ? 'a large partly used pack and small packs' : 'only small packs'}: the first run does the work, the next three write and delete nothing`, async () => {
      const { repoDir, backend } = await smallPacksRepo(large);
      const before = dataBytes(repoDir);
      const first = await prune(backend, maxUnused);
      expect(pruneHasWork(first.plan)).toBe(true);
      expect(first.plan.deletePacks.length).toBeGreaterThan(0); // the first snapshot's tree pack holds nothing used
      // The plan carries the blobs to copy: plan and execute together read each snapshot once (one walk, not two).
      expect(first.snapshotLoads).toBe(first.plan.stats.snapshots);
      // The reported figures agree with each other and with what happened to the files.
      const s = first.plan.stats;
      expect(s.bytesUnused + s.bytesUnreferenced).toBe(s.bytesToDelete + s.bytesUnusedInRepack + s.bytesUnusedAfter);
      expect(first.result.bytesFreed).toBe(before - dataBytes(repoDir));
      expect(first.result.bytesFreed).toBe(s.bytesFreed); // same compression, so the expectation is exact
      if (first.plan.repackPacks.length > 0) expect(first.result.packsWritten).toBe(s.packsToWrite);
      // With a tolerant limit the large partly used pack stays, and its unused blobs are what is left unused.
      if (large && (maxUnused === '50%' || maxUnused === 'unlimited'))
        expect(s.bytesUnusedAfter).toBeGreaterThan(500_000);
      else expect(s.bytesUnusedAfter).toBe(0);

      for (let run = 2; run <= 4; run++) {
        const snapshot = files(repoDir);
        const again = await prune(backend, maxUnused);
        expect({ run, saves: again.saves, removes: again.removes, repacked: again.result.packsRepacked }).toEqual({
          run,
          saves: 0,
          removes: 0,
          repacked: 0,
        });
        expect(files(repoDir)).toEqual(snapshot);
        expect(pruneHasWork(again.plan)).toBe(false);
        expect(again.plan.repackPacks).toEqual([]);
        expect(again.result).toMatchObject({
          packsDeleted: 0,
          packsRepacked: 0,
          packsWritten: 0,
          indexFilesWritten: 0,
          bytesFreed: 0,
        });
        // What the first run said would stay unused is what the next one finds unused, and it stays.
        expect(again.plan.stats.bytesUnused).toBe(s.bytesUnusedAfter);
        expect(again.plan.stats.bytesUnusedAfter).toBe(again.plan.stats.bytesUnused);
        expect(again.plan.stats.bytesFreed).toBe(0);
      }
      const check = await checkRepository(await Repository.open(backend, PASSWORD, { skipIndex: true }), {
        readData: true,
      });
      expect(check.problems).toEqual([]);
      expect(check.notes).toEqual([]);
    });
  }

  it('an index file left superseded by an interrupted rewrite is work: one rewrite removes it, the next run does nothing', async () => {
    const { repoDir, backend } = await smallPacksRepo();
    await prune(backend, '5%');
    // A rewrite that stored its new index file and was killed before it removed the old one.
    const repo = await Repository.open(backend, PASSWORD);
    const old = await repo.listNames('index');
    await repo.saveUnpacked(
      'index',
      encodeIndex({ supersedes: old, packs: recordsOf(repo.index, new Set()) }),
      AAD_INDEX,
    );
    const fixed = await prune(backend, '5%');
    expect(fixed.plan.supersededIndexFiles).toEqual(old.sort());
    expect(fixed.removes).toBe(old.length + 1); // the old file and the interrupted rewrite's own file
    expect(fixed.plan.repackPacks).toEqual([]);
    const snapshot = files(repoDir);
    const again = await prune(backend, '5%');
    expect({ saves: again.saves, removes: again.removes }).toEqual({ saves: 0, removes: 0 });
    expect(files(repoDir)).toEqual(snapshot);
    const check = await checkRepository(await Repository.open(backend, PASSWORD, { skipIndex: true }));
    expect(check.notes).toEqual([]);
  });
});
