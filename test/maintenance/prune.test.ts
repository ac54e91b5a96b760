import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupPaths } from '../../src/archiver/index.js';
import { BackendError } from '../../src/core/errors.js';
import { checkRepository } from '../../src/maintenance/check.js';
import { executePrune } from '../../src/maintenance/prune-execute.js';
import { parseMaxUnused, planPrune } from '../../src/maintenance/prune-plan.js';
import { restoreSnapshot } from '../../src/restorer/index.js';
import { Repository } from '../../src/repository/repository.js';
import { listSnapshots } from '../../src/snapshot/snapshot.js';
import { localRepo, PASSWORD, prng, randomBuffer, tempDir } from '../helpers/repo.js';

const CHUNKER = { algorithm: 'fastcdc-ronomon' as const, min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 };
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function du(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile()) n += fs.statSync(path.join(e.parentPath, e.name)).size;
  return n;
}

async function threeVersions() {
  const work = tempDir();
  dirs.push(work);
  const src = path.join(work, 'src');
  fs.mkdirSync(src);
  const repoDir = path.join(work, 'repo');
  let repo = await localRepo(repoDir, { chunker: CHUNKER, packSize: 4 << 20 });
  const rand = prng(42);
  const kept = path.join(work, 'kept');
  for (let v = 0; v < 3; v++) {
    // Each version replaces one large file and keeps another.
    fs.writeFileSync(path.join(src, 'stable.bin'), randomBuffer(prng(1), 2 << 20));
    fs.writeFileSync(path.join(src, 'changing.bin'), randomBuffer(rand, 3 << 20));
    repo = await Repository.open(repo.backend, PASSWORD);
    await backupPaths(repo, [src], { time: new Date(Date.UTC(2026, 0, v + 1)) });
    if (v === 2) fs.cpSync(src, kept, { recursive: true });
  }
  return { work, src, repoDir, repo, kept };
}

describe('prune', () => {
  it('after forgetting old snapshots frees their space and keeps the rest restorable', async () => {
    const { work, repoDir, repo, kept } = await threeVersions();
    const snaps = await listSnapshots(repo);
    for (const sn of snaps.slice(0, 2)) await repo.backend.remove({ type: 'snapshots', name: sn.id });
    const before = du(repoDir);
    const r1 = await Repository.open(repo.backend, PASSWORD);
    const plan = await planPrune(r1, { maxUnused: { kind: 'percent', value: 0 } });
    expect(plan.stats.bytesFreed).toBeGreaterThan(5 << 20);
    const result = await executePrune(r1, plan);
    expect(result.bytesFreed).toBe(plan.stats.bytesFreed);
    const after = du(repoDir);
    expect(before - after).toBeGreaterThan(5.5 * (1 << 20)); // two versions of a 3 MiB random file
    const r2 = await Repository.open(repo.backend, PASSWORD);
    const check = await checkRepository(await Repository.open(repo.backend, PASSWORD, { skipIndex: true }), {
      readData: true,
    });
    expect(check.problems).toEqual([]);
    expect(check.notes).toEqual([]);
    const target = path.join(work, 'out');
    await restoreSnapshot(r2, (await listSnapshots(r2))[0], { target, subPath: work });
    for (const f of ['stable.bin', 'changing.bin']) {
      expect(fs.readFileSync(path.join(target, 'src', f)).equals(fs.readFileSync(path.join(kept, f)))).toBe(true);
    }
    // A second prune has nothing left to do.
    const again = await planPrune(r2, { maxUnused: { kind: 'percent', value: 0 } });
    expect(again.deletePacks).toEqual([]);
    expect(again.repackPacks).toEqual([]);
  });

  it('a dry-run plan changes nothing, and with nothing forgotten nothing is freed', async () => {
    const { repoDir, repo } = await threeVersions();
    const before = du(repoDir);
    const plan = await planPrune(await Repository.open(repo.backend, PASSWORD));
    expect(plan.deletePacks).toEqual([]);
    expect(plan.stats.blobsUnused).toBe(0);
    expect(du(repoDir)).toBe(before);
  });

  it('refuses to prune when a snapshot references a tree that cannot be read', async () => {
    const { repo } = await threeVersions();
    const r = await Repository.open(repo.backend, PASSWORD);
    const treePack = [...r.index.entries()].find((e) => e.type === 'tree')!.pack;
    await repo.backend.remove({ type: 'data', name: treePack });
    await expect(planPrune(await Repository.open(repo.backend, PASSWORD))).rejects.toMatchObject({ code: 'INTEGRITY' });
  });

  it('closes the writer it opens, also when the prune fails, and the failure keeps its class', async () => {
    const { repo } = await threeVersions();
    for (const sn of (await listSnapshots(repo)).slice(0, 2))
      await repo.backend.remove({ type: 'snapshots', name: sn.id });
    const r1 = await Repository.open(repo.backend, PASSWORD);
    const plan = await planPrune(r1, { maxUnused: { kind: 'percent', value: 0 } });
    expect(plan.stats.blobsToCopy).toBeGreaterThan(0); // so executePrune opens a writer
    const closed: boolean[] = [];
    const sibling = r1.sibling.bind(r1);
    r1.sibling = async (opts) => {
      const w = await sibling(opts);
      const close = w.close.bind(w);
      w.close = async () => {
        closed.push(true);
        await close();
      };
      return w;
    };
    // Storage refuses to delete: the prune fails after the writer stored the copies and the new index.
    r1.backend.remove = () => Promise.reject(new BackendError('permission denied', { file: 'data/xx' }));
    const err = await executePrune(r1, plan).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(closed).toEqual([true]);
  });

  it('parses --max-unused', () => {
    expect(parseMaxUnused('5%')).toEqual({ kind: 'percent', value: 5 });
    expect(parseMaxUnused('100M')).toEqual({ kind: 'bytes', value: 100 << 20 });
    expect(parseMaxUnused('unlimited')).toEqual({ kind: 'unlimited' });
    expect(() => parseMaxUnused('lots')).toThrow(/max-unused/);
  });
});
