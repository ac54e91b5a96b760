// Directories listed ahead while the repository opens (stat-prefetch.ts) must give the walk exactly what
// its own readdir and lstat would: the same snapshot, every tree id reused against the parent. Excluded
// paths are never listed, and a listing that has grown old is not used.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupPaths, findParent, StatPrefetch } from '../../src/archiver/index.js';
import type { BackupOptions } from '../../src/archiver/state.js';
import { Repository } from '../../src/repository/repository.js';
import { localRepo, PASSWORD, tempDir } from '../helpers/repo.js';
import { generateTree } from '../helpers/tree-gen.js';

const CHUNKER = { algorithm: 'fastcdc-ronomon' as const, min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 };
const cwd = process.cwd();
const dirs: string[] = [];
afterAll(() => {
  process.chdir(cwd);
  dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
});

async function listed(p: StatPrefetch): Promise<void> {
  while (!p.done) await new Promise((r) => setImmediate(r));
}

/** A source tree with a name that is not UTF-8, a symlink, an empty directory and a directory to exclude. */
async function setup() {
  const work = tempDir();
  dirs.push(work);
  process.chdir(work); // backed up as the relative "src", so /tmp's changing metadata stays out of the trees
  const src = path.join(work, 'src');
  generateTree(path.join(src, 'gen'), { seed: 41, maxChunk: 64 * 1024, maxEntries: 6 });
  fs.writeFileSync(Buffer.from(path.join(src, 'latin1-\xe9.txt'), 'latin1'), 'not UTF-8\n');
  fs.symlinkSync('gen', path.join(src, 'link'));
  fs.mkdirSync(path.join(src, 'empty'));
  fs.mkdirSync(path.join(src, 'skip', 'deeper'), { recursive: true });
  fs.writeFileSync(path.join(src, 'skip', 'deeper', 'x'), 'x');
  const repo = await localRepo(path.join(work, 'repo'), { chunker: CHUNKER });
  const excludes = [{ pattern: 'skip', ignoreCase: false }];
  const first = await backupPaths(repo, ['src'], { excludes });
  const again = async (opts: BackupOptions) => {
    const r = await Repository.open(repo.backend, PASSWORD);
    const parent = await findParent(r, { hostname: first.snapshot.hostname, paths: [src] });
    return backupPaths(r, ['src'], { parent, excludes, ...opts });
  };
  return { src, excludes, first, again };
}

describe('directories listed ahead of the walk', () => {
  it('give the walk what its own system calls give: every tree id is reused', async () => {
    const { src, excludes, first, again } = await setup();
    const prefetch = StatPrefetch.start(['src'], { excludes });
    await listed(prefetch);
    const r = await again({ prefetch });
    expect(r.snapshot.tree).toBe(first.snapshot.tree);
    const s = r.snapshot.summary!;
    expect([s.files_new, s.files_changed, s.dirs_new, s.dirs_changed]).toEqual([0, 0, 0, 0]);
    const walked = fs
      .readdirSync(src, { recursive: true, withFileTypes: true })
      .filter((e) => e.isDirectory() && !path.join(e.parentPath, e.name).includes(`${path.sep}skip`)).length;
    expect(prefetch.counts).toEqual({ taken: walked + 1, stale: 0 }); // src itself and each directory in it
  });

  it('never lists an excluded directory', async () => {
    const { src, excludes } = await setup();
    const prefetch = StatPrefetch.start([src], { excludes });
    await listed(prefetch);
    expect(prefetch.take(Buffer.from(path.join(src, 'skip')))).toBeUndefined();
    expect(prefetch.take(Buffer.from(path.join(src, 'skip', 'deeper')))).toBeUndefined();
    expect(prefetch.take(Buffer.from(path.join(src, 'empty')))?.names).toEqual([]);
    const top = prefetch.take(Buffer.from(src))!;
    const names = top.names.map((n) => n.toString('latin1')).sort();
    expect(names).toEqual(['empty', 'gen', 'latin1-\xe9.txt', 'link', 'skip']);
    expect(top.stat(top.names.findIndex((n) => n.toString() === 'skip'))).toBeUndefined(); // not even stat'ed
    const link = top.stat(top.names.findIndex((n) => n.toString() === 'link'))!;
    expect(link.isSymbolicLink()).toBe(true);
    const real = fs.lstatSync(path.join(src, 'link'), { bigint: true });
    for (const f of ['dev', 'ino', 'mode', 'nlink', 'uid', 'gid', 'rdev', 'size', 'mtimeNs', 'ctimeNs'] as const)
      expect(link[f]).toBe(real[f]);
  });

  it('lists ahead no directory that would take it past its bound; the walk lists those itself', async () => {
    const { src, excludes, first, again } = await setup();
    const names = fs.readdirSync(src).length;
    const bounded = StatPrefetch.start(['src'], { excludes }, { maxEntries: names - 1 });
    await listed(bounded);
    expect(bounded.take(Buffer.from(src))).toBeUndefined(); // the top directory alone is past the bound
    const r = await again({ prefetch: bounded });
    expect(r.snapshot.tree).toBe(first.snapshot.tree);
    expect(bounded.counts).toEqual({ taken: 0, stale: 0 });
  });

  it('a listing used while fresh is the state it saw; one grown old is listed again', async () => {
    const { src, excludes, again } = await setup();
    const fresh = StatPrefetch.start(['src'], { excludes });
    await listed(fresh);
    fs.writeFileSync(path.join(src, 'late.txt'), 'written after the listing\n');
    const withFresh = await again({ prefetch: fresh });
    expect(withFresh.snapshot.summary!.files_new).toBe(0); // as if written just after the walk passed

    const old = StatPrefetch.start(['src'], { excludes }, { maxAgeMs: 0 });
    await listed(old);
    fs.writeFileSync(path.join(src, 'later.txt'), 'written after the listing\n');
    await new Promise((r) => setTimeout(r, 5));
    const withOld = await again({ prefetch: old });
    expect(old.counts.taken).toBe(0);
    expect(old.counts.stale).toBeGreaterThan(0);
    expect(withOld.snapshot.summary!.files_new).toBe(2); // late.txt and later.txt
  });
});
