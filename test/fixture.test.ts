// The committed format-1 fixture repository must stay readable by every future version.
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../src/backend/local.js';
import { checkRepository } from '../src/maintenance/check.js';
import { restoreSnapshot } from '../src/restorer/index.js';
import { Repository } from '../src/repository/repository.js';
import { listSnapshots } from '../src/snapshot/snapshot.js';
import { tempDir } from './helpers/repo.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const manifest = JSON.parse(fs.readFileSync(path.join(here, 'fixtures/repo-v1.json'), 'utf8'));
const work = tempDir();
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('fixture repository, format 1', () => {
  it('opens, lists, checks with --read-data and restores byte-identical', async () => {
    const copy = path.join(work, 'repo');
    fs.cpSync(path.join(here, 'fixtures/repo-v1'), copy, { recursive: true });
    const repo = await Repository.open(await LocalBackend.open(copy), manifest.password);
    expect(repo.config.version).toBe(1);
    const snaps = await listSnapshots(repo);
    expect(snaps.map((s) => s.id)).toEqual(manifest.snapshots);
    expect(snaps[0].tags).toEqual(['v1']);
    expect(snaps[1].paths).toEqual(['/dump.sql']);

    const report = await checkRepository(await Repository.open(repo.backend, manifest.password, { skipIndex: true }), {
      readData: true,
    });
    expect(report.problems).toEqual([]);

    const target = path.join(work, 'out');
    await restoreSnapshot(repo, snaps[0], { target, verify: true });
    const root = path.join(target, 'fixture');
    for (const [f, sha] of Object.entries(manifest.files)) {
      expect(
        createHash('sha256')
          .update(fs.readFileSync(path.join(root, f)))
          .digest('hex'),
        f,
      ).toBe(sha);
    }
    expect(fs.readlinkSync(path.join(root, 'link'))).toBe('hello.txt');
    expect(fs.statSync(path.join(root, 'dir/big.bin')).mode & 0o777).toBe(0o640);
    expect(fs.statSync(path.join(root, 'hello.txt')).mtimeMs).toBe(1700000000250);
    const raw = Buffer.concat([Buffer.from(path.join(root, 'dir/raw-')), Buffer.from([0xff, 0xfe])]);
    expect(fs.readFileSync(raw, 'utf8')).toBe('not utf-8 name\n');

    await restoreSnapshot(repo, snaps[1], { target: path.join(work, 'out2') });
    expect(fs.readFileSync(path.join(work, 'out2/dump.sql'), 'utf8')).toBe('streamed content\n'.repeat(100));
  });
});
