// `repo analyze -r` against a format-2 repository: its stored-size estimate includes the Padmé padding the writer
// adds (spec/format-2.md §4), checked against a real backup of the same data through the built CLI.
//
// Tolerances: the estimate must equal the stored lengths of the data blobs the backup indexed (0 bytes apart: same
// chunks, same compression, same padding function), and be within 1 % of the pack files on disk, which also hold
// the tree blobs and the pack headers. The unpadded estimate (what analyze reported before) misses by more.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzePaths } from '../../src/analyze/index.js';
import { LocalBackend } from '../../src/backend/local.js';
import { Repository } from '../../src/repository/repository.js';
import { lastJson, runCli } from '../helpers/cli.js';
import { prng, randomBuffer, tempDir } from '../helpers/repo.js';

const PASSWORD = 'analyze format 2';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** Bytes of every file under `dir`. */
function bytesUnder(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? bytesUnder(p) : fs.statSync(p).size;
  }
  return n;
}

/** Mixed data: many small files (where Padmé adds most), compressible text, and incompressible large files. */
function writeData(root: string): void {
  const rand = prng(18);
  for (let d = 0; d < 2; d++) {
    const dir = path.join(root, `dir${d}`);
    fs.mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 30; i++) {
      const size = 1000 + Math.floor(rand() * 60_000);
      const data =
        i % 2 === 0
          ? randomBuffer(rand, size)
          : Buffer.from(`line ${i} of dir ${d}: ${rand().toString(36)}\n`.repeat(Math.ceil(size / 40))).subarray(
              0,
              size,
            );
      fs.writeFileSync(path.join(dir, `f${i}`), data);
    }
  }
  fs.writeFileSync(path.join(root, 'big.bin'), randomBuffer(rand, 1_500_000));
  fs.writeFileSync(path.join(root, 'big.txt'), Buffer.from('a compressible line of a log file\n'.repeat(30_000)));
}

describe('repo analyze -r on a format-2 repository', () => {
  it('estimates the padded stored size: equal to the indexed data blobs, within 1 % of the pack files on disk', async () => {
    const dir = tempDir('analyze-f2-');
    dirs.push(dir);
    const data = path.join(dir, 'data');
    const repoDir = path.join(dir, 'repo');
    writeData(data);
    const cli = (...args: string[]) => runCli(['-r', repoDir, ...args], { password: PASSWORD });

    const init = await cli('--json', 'init');
    expect(init.code, init.stderr).toBe(0);
    const analyzed = await cli('--json', 'analyze', data);
    expect(analyzed.code, analyzed.stderr).toBe(0);
    const setting = (
      lastJson(analyzed.out) as {
        settings: { stored_bytes: number; repository: { added_stored_bytes: number; added_chunks: number } }[];
      }
    ).settings[0];
    const estimate = setting.repository.added_stored_bytes;
    expect(estimate).toBe(setting.stored_bytes); // an empty repository: everything is new

    const backup = await cli('--json', 'backup', data);
    expect(backup.code, backup.stderr).toBe(0);

    const repo = await Repository.open(await LocalBackend.open(repoDir), PASSWORD, { workers: 0 });
    try {
      expect(repo.config.version).toBe(2);
      const blobs = [...repo.index.entries()].filter((e) => e.type === 'data');
      expect(blobs.length).toBe(setting.repository.added_chunks);
      const indexed = blobs.reduce((n, e) => n + e.storedLength, 0);
      expect(estimate).toBe(indexed);

      const onDisk = bytesUnder(path.join(repoDir, 'data'));
      expect(Math.abs(onDisk - estimate) / onDisk).toBeLessThan(0.01);

      // The same analysis without padding (what analyze estimated before): off by more than the tolerance.
      const unpadded = await analyzePaths([data], { settings: [repo.config.chunker], workers: 0 });
      expect(unpadded.settings[0].uniqueChunks).toBe(blobs.length);
      expect((onDisk - unpadded.settings[0].storedBytes) / onDisk).toBeGreaterThan(0.01);
    } finally {
      await repo.close();
    }
  });
});
