// The committed format-2 fixture repository (test/fixtures/repo-v2, made by generate-repo-v2.mjs) must stay
// readable by every future version, and shows format 2 as stored: the keyed chunker and padded blobs.
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../src/backend/local.js';
import { SEAL_OVERHEAD } from '../src/crypto/xaes.js';
import { checkRepository } from '../src/maintenance/check.js';
import { padme } from '../src/repository/blob-padding.js';
import { Repository } from '../src/repository/repository.js';
import { restoreSnapshot } from '../src/restorer/index.js';
import { listSnapshots } from '../src/snapshot/snapshot.js';
import { tempDir } from './helpers/repo.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const manifest = JSON.parse(fs.readFileSync(path.join(here, 'fixtures/repo-v2.json'), 'utf8'));
const work = tempDir();
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('fixture repository, format 2', () => {
  it('opens, lists, checks with --read-data and restores byte-identical; every blob is padded', async () => {
    const copy = path.join(work, 'repo');
    fs.cpSync(path.join(here, 'fixtures/repo-v2'), copy, { recursive: true });
    const repo = await Repository.open(await LocalBackend.open(copy), manifest.password);
    expect(repo.config.version).toBe(2);
    expect(repo.config.blob_padding).toBe('padme');
    expect(repo.config.chunker).toMatchObject({ algorithm: 'gear-keyed', min: 1024, avg: 4096, max: 16384 });
    const snaps = await listSnapshots(repo);
    expect(snaps.map((s) => s.id)).toEqual(manifest.snapshots);
    expect(snaps[0].tags).toEqual(['v2']);

    // Every stored blob (data and tree) is a Padmé size class plus the seal's nonce and tag.
    let blobs = 0;
    for (const b of repo.index.entries()) {
      const plain = b.storedLength - SEAL_OVERHEAD;
      expect(padme(plain), `blob of ${plain} bytes`).toBe(plain);
      blobs++;
    }
    expect(blobs).toBeGreaterThan(10);

    const report = await checkRepository(await Repository.open(repo.backend, manifest.password, { skipIndex: true }), {
      readData: true,
    });
    expect(report.problems).toEqual([]);

    const target = path.join(work, 'out');
    await restoreSnapshot(repo, snaps[0], { target, verify: true });
    // Snapshots of this version keep the full source path (tree_layout "full").
    const root = path.join(target, snaps[0].paths[0]);
    for (const [f, sha] of Object.entries(manifest.files)) {
      const got = createHash('sha256')
        .update(fs.readFileSync(path.join(root, f)))
        .digest('hex');
      expect(got, f).toBe(sha);
    }
    expect(fs.readlinkSync(path.join(root, 'link'))).toBe('hello.txt');
    expect(fs.statSync(path.join(root, 'dir/big.bin')).mode & 0o777).toBe(0o640);
    await restoreSnapshot(repo, snaps[1], { target: path.join(work, 'out2') });
    expect(fs.readFileSync(path.join(work, 'out2/dump.sql'), 'utf8')).toBe('streamed content\n'.repeat(100));
    await repo.close();
  });
});
