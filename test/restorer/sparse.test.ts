// Sparse restore: all-zero blobs become holes, files come back byte-identical with their size (also when
// they end in a hole) and far fewer allocated blocks; --no-sparse writes every zero.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupPaths } from '../../src/archiver/index.js';
import { restoreSnapshot } from '../../src/restorer/index.js';
import { findSnapshot } from '../../src/snapshot/snapshot.js';
import { runCli } from '../helpers/cli.js';
import { localRepo, prng, randomBuffer, tempDir } from '../helpers/repo.js';

const SMALL_CHUNKER = { algorithm: 'fastcdc-ronomon' as const, min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 };
const MiB = 1 << 20;
const dirs: string[] = [];
const mk = () => {
  const d = tempDir('sparse-');
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const allocated = (file: string) => fs.statSync(file).blocks * 512;

/**
 * big.img: 64 MiB with 4 KiB of data at 1 MiB and 4 KiB at 40 MiB, ending in a hole (spans many windows);
 * tail.img: 100 KiB of data then 600 KiB of zeros (one window, ends in a hole); dense.bin: no zeros at all.
 */
function sparseSource(src: string): void {
  const rand = prng(7);
  fs.mkdirSync(src, { recursive: true });
  const big = path.join(src, 'big.img');
  const fd = fs.openSync(big, 'w');
  fs.writeSync(fd, randomBuffer(rand, 4096), 0, 4096, MiB);
  fs.writeSync(fd, randomBuffer(rand, 4096), 0, 4096, 40 * MiB);
  fs.ftruncateSync(fd, 64 * MiB);
  fs.closeSync(fd);
  fs.writeFileSync(
    path.join(src, 'tail.img'),
    Buffer.concat([randomBuffer(rand, 100 * 1024), Buffer.alloc(600 * 1024)]),
  );
  fs.writeFileSync(path.join(src, 'dense.bin'), randomBuffer(rand, 300 * 1024));
}

function expectSame(src: string, out: string): void {
  for (const f of ['big.img', 'tail.img', 'dense.bin']) {
    const a = path.join(src, f);
    const b = path.join(out, f);
    expect(fs.statSync(b).size, f).toBe(fs.statSync(a).size);
    expect(fs.readFileSync(b).equals(fs.readFileSync(a)), `${f} bytes`).toBe(true);
  }
}

describe('sparse restore', () => {
  it('leaves holes for zero blobs (0 and 2 threads), keeps sizes, and writes everything with sparse off', async () => {
    const work = mk();
    const src = path.join(work, 'src');
    sparseSource(src);
    expect(allocated(path.join(src, 'big.img'))).toBeLessThan(MiB); // the file system makes holes (else the test says nothing)
    const repo = await localRepo(path.join(work, 'repo'), { chunker: SMALL_CHUNKER });
    const r = await backupPaths(repo, [src]);
    const sn = await findSnapshot(repo, r.snapshotId!);
    for (const workers of [0, 2]) {
      const target = path.join(work, `out-${workers}`);
      const result = await restoreSnapshot(repo, sn, { target, workers, subPath: work }); // target gets src/ (full paths, spec §10)
      const out = path.join(target, 'src');
      expectSame(src, out);
      expect(result.bytes).toBe(64 * MiB + 700 * 1024 + 300 * 1024);
      // Data chunks are at most 256 KiB here: two of them around the data of big.img, one or two in tail.img.
      expect(allocated(path.join(out, 'big.img'))).toBeLessThanOrEqual(2 * 256 * 1024 + 8192);
      expect(allocated(path.join(out, 'tail.img'))).toBeLessThan(400 * 1024);
      expect(allocated(path.join(out, 'dense.bin'))).toBeGreaterThanOrEqual(300 * 1024);
    }
    const dense = path.join(work, 'out-dense');
    await restoreSnapshot(repo, sn, { target: dense, sparse: false, subPath: work });
    expectSame(src, path.join(dense, 'src'));
    expect(allocated(path.join(dense, 'src', 'big.img'))).toBeGreaterThanOrEqual(64 * MiB);
    expect(allocated(path.join(dense, 'src', 'tail.img'))).toBeGreaterThanOrEqual(700 * 1024);
  });

  it('CLI: sparse by default, --no-sparse writes zeros, --sparse is accepted', async () => {
    const work = mk();
    const src = path.join(work, 'src');
    sparseSource(src);
    const repoDir = path.join(work, 'repo');
    const password = 'sparse pw';
    expect((await runCli(['-r', repoDir, 'init', '--format', '1'], { password })).code).toBe(0);
    expect((await runCli(['-r', repoDir, 'backup', src], { password })).code).toBe(0);
    const accepted = await runCli(
      ['-r', repoDir, 'restore', `latest:${work}`, '--target', path.join(work, 'dry'), '--sparse', '--dry-run'],
      { password },
    );
    expect(accepted.code, accepted.stderr).toBe(0); // restic's flag name
    for (const [flag, sparse] of [
      [[], true],
      [['--no-sparse'], false],
    ] as const) {
      const target = path.join(work, `out${flag.join('')}`);
      const res = await runCli(['-r', repoDir, 'restore', `latest:${work}`, '--target', target, ...flag], { password });
      expect(res.code, res.stderr).toBe(0);
      expectSame(src, path.join(target, 'src'));
      const used = allocated(path.join(target, 'src', 'big.img'));
      // The default chunker's chunks are at most 2 MiB: two around the data.
      if (sparse) expect(used).toBeLessThanOrEqual(4 * MiB + 8192);
      else expect(used).toBeGreaterThanOrEqual(64 * MiB);
    }
  });
});
