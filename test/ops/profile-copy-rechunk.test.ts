// A profile's `copy-to` step between two format-2 repositories with different chunker secrets re-cuts every file
// with the destination's chunker, as `repo copy` does: run through the built CLI (`repo run`), then the
// destination is checked with --read-data, restored and compared byte for byte, and the same files backed up
// directly into it add no data blob (its blobs are the destination's own chunks, not the source's).

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lastJson, runCli } from '../helpers/cli.js';
import { prng, randomBuffer, tempDir } from '../helpers/repo.js';

const PASSWORD = 'profile copy password';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe('profile copy-to between format-2 repositories with different secrets', () => {
  it('re-chunks with the destination chunker: check --read-data passes, restores byte-identical, dedupes fully', async () => {
    const dir = tempDir('repo-profile-copy-');
    dirs.push(dir);
    const env = {
      REPO_STATE_DIR: path.join(dir, 'state'),
      REPO_CACHE_DIR: path.join(dir, 'cache'),
    };
    const cli = (...args: string[]) => runCli(args, { cwd: dir, env, password: PASSWORD });
    fs.writeFileSync(path.join(dir, 'pass'), `${PASSWORD}\n`, { mode: 0o600 });
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    const rand = prng(31);
    // Incompressible, several chunks at the default sizes: where two secrets cut differs in every chunk.
    fs.writeFileSync(path.join(src, 'big.bin'), randomBuffer(rand, 2_500_000));
    fs.writeFileSync(path.join(src, 'log.txt'), Buffer.from('a line of a log\n'.repeat(40_000)));
    fs.writeFileSync(path.join(src, 'small.txt'), 'small\n');

    // Two separate inits: two secrets drawn independently (CLI start-up dominates here, so they run side by side).
    for (const init of await Promise.all(['repo', 'offsite'].map((r) => cli('-r', r, 'init'))))
      expect(init.code, init.stderr).toBe(0);
    for (const c of await Promise.all(['repo', 'offsite'].map((r) => cli('-r', r, 'cat', 'config'))))
      expect(JSON.parse(c.out)).toMatchObject({ version: 2, chunker: { algorithm: 'gear-keyed' } });
    fs.writeFileSync(
      path.join(dir, 'repo.yaml'),
      `profiles:\n  home:\n    repository: ./repo\n    password-file: ./pass\n    sources: [./src]\n    copy-to: ["./offsite"]\n`,
    );

    const run = await cli('run', 'home');
    expect(run.code, run.out + run.stderr).toBe(0);
    expect(run.out).toContain('copied files are cut again');
    expect(run.out).toMatch(/1 snapshots copied/);

    const out = path.join(dir, 'restored');
    const [check, restore] = await Promise.all([
      cli('-r', 'offsite', 'check', '--read-data'),
      cli('-r', 'offsite', 'restore', 'latest', '--target', out),
    ]);
    expect(check.code, check.out + check.stderr).toBe(0);
    expect(check.out).toContain('no errors were found');
    expect(restore.code, restore.stderr).toBe(0);
    for (const f of ['big.bin', 'log.txt', 'small.txt']) {
      const restored = fs.readFileSync(path.join(out, path.relative('/', src), f));
      expect(restored.equals(fs.readFileSync(path.join(src, f))), f).toBe(true);
    }

    // The same bytes under another path (no parent snapshot: every file is read and cut by the destination).
    const again = path.join(dir, 'again');
    fs.cpSync(src, again, { recursive: true });
    const direct = await cli('-r', 'offsite', '--json', 'backup', again);
    expect(direct.code, direct.stderr).toBe(0);
    const summary = lastJson(direct.out) as { data_blobs: number; files_new: number };
    expect(summary.files_new).toBe(3);
    expect(summary.data_blobs).toBe(0);
  });
});
