import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupPaths, findParent } from '../../src/archiver/index.js';
import { Repository } from '../../src/repository/repository.js';
import { loadTree } from '../../src/tree/tree-store.js';
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

async function setup() {
  const work = tempDir();
  dirs.push(work);
  const src = path.join(work, 'src');
  process.chdir(work);
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(src, 'sub', `f${i}`), randomBuffer(prng(i), 200_000));
  fs.writeFileSync(path.join(src, 'top.txt'), 'top\n');
  const repo = await localRepo(path.join(work, 'repo'), { chunker: CHUNKER });
  const first = await backupPaths(repo, ['src']);
  const next = async (opts: Parameters<typeof backupPaths>[2] = {}) => {
    const r = await Repository.open(repo.backend, PASSWORD);
    const parent = await findParent(r, { hostname: first.snapshot.hostname, paths: [src] });
    return backupPaths(r, ['src'], { parent, ...opts });
  };
  return { work, src, repo, first, next };
}

describe('change detection against the parent snapshot', () => {
  it('an unchanged tree reads nothing and reuses every tree id', async () => {
    const { first, next } = await setup();
    const r = await next();
    const s = r.snapshot.summary!;
    expect([s.files_new, s.files_changed, s.files_unmodified]).toEqual([0, 0, 6]);
    expect([s.dirs_new, s.dirs_changed, s.dirs_unmodified]).toEqual([0, 0, 2]);
    expect(s.data_added).toBe(0);
    expect(r.snapshot.tree).toBe(first.snapshot.tree);
    expect(r.snapshot.parent).toBeDefined();
  });

  it('reading every file moves atimes but stores nothing and keeps every tree id', async () => {
    const { src, first, next } = await setup();
    const files = [path.join(src, 'top.txt'), ...[0, 1, 2, 3, 4].map((i) => path.join(src, 'sub', `f${i}`))];
    const before = files.map((f) => fs.statSync(f, { bigint: true }).atimeNs);
    await new Promise((r) => setTimeout(r, 20));
    for (const f of files) fs.readFileSync(f);
    const after = files.map((f) => fs.statSync(f, { bigint: true }).atimeNs);
    expect(after.some((a, i) => a !== before[i])).toBe(true); // the reads really moved atimes (relatime allows it here)
    const r = await next();
    const s = r.snapshot.summary!;
    expect([s.files_changed, s.files_unmodified]).toEqual([0, 6]);
    expect([s.dirs_new, s.dirs_changed, s.dirs_unmodified]).toEqual([0, 0, 2]);
    expect([s.data_blobs, s.tree_blobs, s.data_added]).toEqual([0, 0, 0]);
    expect(r.snapshot.tree).toBe(first.snapshot.tree);
  });

  it('touching one mtime re-reads only that file', async () => {
    const { src, next } = await setup();
    fs.utimesSync(path.join(src, 'sub', 'f3'), new Date(), new Date(2030, 0, 1));
    let bytesRead = 0;
    const r = await next({ onProgress: (p) => (bytesRead = p.bytesDone) });
    const s = r.snapshot.summary!;
    expect([s.files_changed, s.files_unmodified]).toEqual([1, 5]);
    expect(s.data_blobs).toBe(0); // same content: nothing new stored
    expect(s.dirs_changed).toBe(2); // sub (a node changed) and src
    expect(bytesRead).toBeGreaterThanOrEqual(200_000);
  });

  it('content changed without a size or mtime change is caught only with --force', async () => {
    const { src, next } = await setup();
    const f = path.join(src, 'sub', 'f1');
    fs.utimesSync(f, 1_700_000_000, 1_700_000_000); // whole seconds survive utimes exactly
    await next();
    const data = fs.readFileSync(f);
    data[100] ^= 0xff;
    fs.writeFileSync(f, data);
    fs.utimesSync(f, 1_700_000_000, 1_700_000_000);
    const plain = await next({ ignoreCtime: true });
    expect(plain.snapshot.summary!.data_blobs).toBe(0);
    const forced = await next({ force: true });
    expect(forced.snapshot.summary!.data_blobs).toBeGreaterThan(0);
    expect(forced.snapshot.summary!.files_changed).toBe(6);
  });

  it('a renamed directory dedupes fully, and a deleted file disappears from the new snapshot only', async () => {
    const { repo, src, first, next } = await setup();
    fs.renameSync(path.join(src, 'sub'), path.join(src, 'renamed'));
    fs.rmSync(path.join(src, 'top.txt'));
    const r = await next();
    expect(r.snapshot.summary!.data_blobs).toBe(0);
    expect(r.snapshot.summary!.files_new).toBe(5);
    const ro = await Repository.open(repo.backend, PASSWORD);
    const names = async (tree: string) => {
      const root = (await loadTree(ro, tree)).nodes[0];
      return (await loadTree(ro, root.subtree!)).nodes.map((n) => n.name.toString()).sort();
    };
    expect(await names(r.snapshot.tree)).toEqual(['renamed']);
    expect(await names(first.snapshot.tree)).toEqual(['sub', 'top.txt']);
  });

  it('produces the same snapshot tree whatever the concurrency', async () => {
    const work = tempDir();
    dirs.push(work);
    const src = path.join(work, 'src');
    process.chdir(work);
    process.chdir(work);
    generateTree(src, { seed: 77, maxChunk: CHUNKER.max });
    const trees: string[] = [];
    for (const concurrency of [1, 8]) {
      const repo = await localRepo(path.join(work, `repo${concurrency}`), { chunker: CHUNKER });
      // Same id key is not shared between repositories, so compare within one repository instead.
      const r1 = await backupPaths(repo, ['src'], { concurrency });
      const r2 = await backupPaths(await Repository.open(repo.backend, PASSWORD), ['src'], {
        concurrency: concurrency === 1 ? 8 : 1,
      });
      expect(r2.snapshot.tree).toBe(r1.snapshot.tree);
      trees.push(r1.snapshot.tree);
    }
  });
});
