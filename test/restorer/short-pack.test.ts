// A pack cut short (truncated or emptied on disk) is damage like a flipped bit: the files it held are named
// and left out, everything else is restored. Before, "range beyond the end" stopped the whole restore.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { backupPaths } from '../../src/archiver/index.js';
import { restoreSnapshot, RestoreDamagedError } from '../../src/restorer/index.js';
import { findSnapshot } from '../../src/snapshot/snapshot.js';
import { localRepo, prng, randomBuffer, tempDir } from '../helpers/repo.js';

const tmp = tempDir('repo-short-pack-');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

it.each([
  ['truncated to half', (n: number) => Math.floor(n / 2)],
  ['emptied', () => 0],
])('a data pack %s: the other files are restored, its files are named', async (_label, keep) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'case-'));
  const repoDir = path.join(dir, 'repo');
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  const rand = prng(7);
  const old = randomBuffer(rand, 300_000);
  fs.writeFileSync(path.join(src, 'old.bin'), old);
  fs.symlinkSync('old.bin', path.join(src, 'link'));
  const repo = await localRepo(repoDir);
  await backupPaths(repo, [src]);
  const packsBefore = new Set(fs.readdirSync(path.join(repoDir, 'data'), { recursive: true, encoding: 'utf8' }));
  fs.writeFileSync(path.join(src, 'new.bin'), randomBuffer(rand, 300_000));
  await backupPaths(repo, [src]);
  // The second backup stored new.bin's data in a pack of its own: cut that pack short.
  const added = fs
    .readdirSync(path.join(repoDir, 'data'), { recursive: true, encoding: 'utf8' })
    .filter((f) => !packsBefore.has(f) && fs.statSync(path.join(repoDir, 'data', f)).isFile())
    .map((f) => path.join(repoDir, 'data', f))
    .sort((a, b) => fs.statSync(b).size - fs.statSync(a).size);
  const victim = added[0]; // the data pack (larger than the tree pack)
  fs.truncateSync(victim, keep(fs.statSync(victim).size));

  const target = path.join(dir, 'out');
  const sn = await findSnapshot(repo, 'latest');
  const err = await restoreSnapshot(repo, sn, { target }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RestoreDamagedError);
  const damaged = (err as RestoreDamagedError).damaged.map((d) => d.item);
  expect(damaged.some((p) => p.endsWith('/new.bin'))).toBe(true);
  const restoredSrc = path.join(target, src);
  expect(fs.readFileSync(path.join(restoredSrc, 'old.bin')).equals(old)).toBe(true);
  expect(fs.readlinkSync(path.join(restoredSrc, 'link'))).toBe('old.bin');
  expect(fs.existsSync(path.join(restoredSrc, 'new.bin'))).toBe(false);
});
