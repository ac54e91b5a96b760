// Restore of many files and of files spanning pack windows: the default threads (started as the plan grows,
// with the calling thread writing too) give the same tree as fixed counts, overwrite modes skip files that
// span windows, hard links and verify work on the compact plan, modes come out exact whether set at creation
// or after writing, and a bad timestamp fails before any write.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupPaths } from '../../src/archiver/index.js';
import { restoreSnapshot } from '../../src/restorer/index.js';
import { findSnapshot } from '../../src/snapshot/snapshot.js';
import { localRepo, prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { compareTrees } from '../helpers/tree-gen.js';
import { dirNode, fileNode, newRepo, rawNode, rawTree, snapshotOf, saveContent } from './helpers.js';

const SMALL_CHUNKER = { algorithm: 'fastcdc-ronomon' as const, min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 };
const dirs: string[] = [];
const mk = () => {
  const d = tempDir('restore-windows-');
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** 2,600 small files in 26 directories (enough for the default to start every thread), big files, a hard link. */
function manyFiles(src: string): void {
  const rand = prng(21);
  for (let d = 0; d < 26; d++) {
    const dir = path.join(src, `d${d}`);
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 100; f++) {
      const file = path.join(dir, `f${f}`);
      fs.writeFileSync(file, randomBuffer(rand, Math.floor(rand() * 3000)));
      fs.chmodSync(file, f % 3 === 0 ? 0o600 : 0o644);
      fs.utimesSync(file, 1_600_000_000 + f, 1_500_000_000 + d * 1000 + f + 0.123456);
    }
  }
  fs.writeFileSync(path.join(src, 'big1.bin'), randomBuffer(rand, 5 * 1024 * 1024 + 3));
  fs.writeFileSync(path.join(src, 'big2.bin'), randomBuffer(rand, 3 * 1024 * 1024 + 5));
  fs.linkSync(path.join(src, 'big2.bin'), path.join(src, 'd0', 'big2-link'));
}

describe('restore in pack windows', () => {
  it('gives identical trees with the default threads, none and two, with verify', async () => {
    const work = mk();
    const src = path.join(work, 'src');
    manyFiles(src);
    const repo = await localRepo(path.join(work, 'repo'), { chunker: SMALL_CHUNKER, packSize: 4 << 20 });
    const { snapshotId, warnings } = await backupPaths(repo, [src]);
    expect(warnings).toEqual([]);
    const sn = await findSnapshot(repo, snapshotId!);
    for (const workers of [undefined, 0, 2]) {
      const target = path.join(work, `restore-${workers}`);
      const r = await restoreSnapshot(repo, sn, { target, subPath: path.dirname(src), workers, verify: true });
      expect(compareTrees(src, path.join(target, 'src'))).toEqual([]);
      expect(r).toMatchObject({ files: 2602, hardlinks: 1, dirs: 27, warnings: 0, verified: 2602 });
      const a = fs.statSync(path.join(target, 'src', 'big2.bin'));
      expect(fs.statSync(path.join(target, 'src', 'd0', 'big2-link')).ino).toBe(a.ino);
    }
  });

  it('skips files spanning windows under if-changed and never, and rewrites a changed one', async () => {
    const work = mk();
    const src = path.join(work, 'src');
    fs.mkdirSync(src);
    const big = randomBuffer(prng(4), 6 * 1024 * 1024);
    fs.writeFileSync(path.join(src, 'big.bin'), big);
    fs.writeFileSync(path.join(src, 'small'), 'x');
    const repo = await localRepo(path.join(work, 'repo'), { chunker: SMALL_CHUNKER, packSize: 16 << 20 });
    const sn = await findSnapshot(repo, (await backupPaths(repo, [src])).snapshotId!);
    const target = path.join(work, 'restore');
    await restoreSnapshot(repo, sn, { target, subPath: path.dirname(src) });
    const restored = path.join(target, 'src', 'big.bin');
    const ino = fs.statSync(restored).ino;
    let r = await restoreSnapshot(repo, sn, { target, subPath: path.dirname(src), overwrite: 'if-changed' });
    expect(r).toMatchObject({ files: 0, skipped: 2 });
    expect(fs.statSync(restored).ino).toBe(ino);
    r = await restoreSnapshot(repo, sn, { target, subPath: path.dirname(src), overwrite: 'never' });
    expect(r).toMatchObject({ files: 0, skipped: 2 });
    fs.truncateSync(restored, 10);
    r = await restoreSnapshot(repo, sn, { target, subPath: path.dirname(src), overwrite: 'if-changed' });
    expect(r).toMatchObject({ files: 1, skipped: 1 });
    expect(fs.readFileSync(restored).equals(big)).toBe(true);
  });

  it('gives every mode exactly, whether the file is created with it or changed after writing', async () => {
    const { repo } = await newRepo();
    const modes = [0o644, 0o600, 0o666, 0o777, 0o755, 0o444, 0o400, 0o000, 0o2755, 0o1644, 0o4711, 0o620];
    const files = await Promise.all(
      modes.map((mode, i) => fileNode(repo, `m${i}`, Buffer.from(`file ${i}`), { mode })),
    );
    const sn = await snapshotOf(repo, files);
    for (const workers of [0, 1]) {
      const target = path.join(mk(), 'restore');
      await restoreSnapshot(repo, sn, { target, workers });
      expect(modes.map((_, i) => fs.lstatSync(path.join(target, `m${i}`)).mode & 0o7777)).toEqual(modes);
    }
  });

  it.runIf(process.getuid?.() === 0)(
    'as root, gives files their owner in a setgid directory of another group',
    async () => {
      const { repo } = await newRepo();
      const sn = await snapshotOf(repo, [
        await dirNode(
          repo,
          'd',
          [
            await fileNode(repo, 'mine', Buffer.from('a')),
            await fileNode(repo, 'theirs', Buffer.from('b'), { uid: 1234, gid: 5678 }),
          ],
          { mode: 0o2775, gid: 4321 },
        ),
      ]);
      const target = path.join(mk(), 'restore');
      // The directory exists with setgid and another group: a new file inside gets that group, not root's.
      fs.mkdirSync(path.join(target, 'd'), { recursive: true });
      fs.chownSync(path.join(target, 'd'), 0, 4321);
      fs.chmodSync(path.join(target, 'd'), 0o2775);
      for (const workers of [0, 1]) {
        for (const f of ['mine', 'theirs']) fs.rmSync(path.join(target, 'd', f), { force: true });
        await restoreSnapshot(repo, sn, { target, workers });
        const own = (f: string) => {
          const st = fs.lstatSync(path.join(target, 'd', f));
          return [st.uid, st.gid];
        };
        expect(own('mine')).toEqual([0, 0]);
        expect(own('theirs')).toEqual([1234, 5678]);
      }
    },
  );

  it('restores a file with an invalid timestamp with the epoch as its time, naming tree and node', async () => {
    const { repo } = await newRepo();
    const content = await saveContent(repo, Buffer.from('hello'));
    const tree = await rawTree(repo, [
      rawNode('d', 'dir', { subtree: await rawTree(repo, [rawNode('f', 'file', { content, mtime: 'yesterday' })]) }),
    ]);
    const sn = await snapshotOf(repo, tree);
    const work = mk();
    const target = path.join(work, 'restore');
    const warnings: string[] = [];
    const r = await restoreSnapshot(repo, sn, { target, onWarning: (w) => warnings.push(w.message) });
    expect(r.files).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('node "f"');
    expect(warnings[0]).toContain('"yesterday"');
    expect(fs.readFileSync(path.join(target, 'd', 'f'), 'utf8')).toBe('hello');
    expect(fs.statSync(path.join(target, 'd', 'f')).mtimeMs).toBe(0);
  });
});
