// Format 2 through the built CLI: init's default and --format 1, copy re-chunking only between different
// chunkers, init --copy-chunker-params sharing the secret, and migrate (dry run, in place, old data restorable).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastJson, runCli, type CliResult } from '../helpers/cli.js';
import { prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { compareTrees } from '../helpers/tree-gen.js';

let tmp: string;
let src: string;
const PW = 'format two';
// Both repositories' passwords are the same here; --from-repo reads REPO_FROM_PASSWORD.
const ENV = { REPO_FROM_PASSWORD: PW };

async function ok(...args: string[]): Promise<CliResult> {
  const r = await runCli(args, { cwd: tmp, password: PW, env: ENV });
  if (r.code !== 0) throw new Error(`repo ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.out}`);
  return r;
}
const config = async (repo: string) => lastJson((await ok('-r', repo, 'cat', 'config')).out);
/** Data blobs a forced backup (every file read and cut again) of src adds. */
const forcedBackupAdds = async (repo: string) =>
  lastJson((await ok('-r', repo, '--json', 'backup', '--force', 'src')).out).data_blobs as number;

beforeAll(() => {
  tmp = tempDir('repo-e2e-format2-');
  src = path.join(tmp, 'src');
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(src, 'big.bin'), randomBuffer(prng(18), 3_000_000));
  fs.writeFileSync(path.join(src, 'sub', 'text.txt'), 'line of text\n'.repeat(40_000));
  fs.writeFileSync(path.join(src, 'small'), 'small\n');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('format 2', () => {
  it('init makes format 2 (the secret never printed); --format 1 still makes format 1', async () => {
    const init = lastJson((await ok('-r', 'two', '--json', 'init')).out);
    expect(init.chunker.algorithm).toBe('gear-keyed');
    expect(init.chunker.secret).toBeUndefined();
    const c = await config('two');
    expect([c.version, c.blob_padding, c.chunker.secret]).toEqual([2, 'padme', undefined]);
    await ok('-r', 'one', 'init', '--format', '1');
    expect((await config('one')).version).toBe(1);
    expect((await config('one')).chunker.algorithm).toBe('fastcdc-ronomon');
  });

  it('copy re-chunks between different chunkers and not with a shared secret', async () => {
    await ok('-r', 'one', 'backup', 'src');
    const f1to2 = await ok('-r', 'two', 'copy', '--from-repo', 'one');
    expect(f1to2.out + f1to2.stderr).toContain('cut again');
    // Re-cut with two's keyed chunker: reading the files again finds every chunk already stored.
    expect(await forcedBackupAdds('two')).toBe(0);

    await ok('-r', 'shared', 'init', '--copy-chunker-params', '--from-repo', 'two');
    const same = await ok('-r', 'shared', 'copy', '--from-repo', 'two');
    expect(same.out + same.stderr).not.toContain('cut again');
    expect(await forcedBackupAdds('shared')).toBe(0);
    await ok('-r', 'shared', 'check', '--read-data');
    await ok('-r', 'shared', 'restore', 'latest', '--target', 'out-shared');
    expect(compareTrees(src, path.join(tmp, 'out-shared', 'src'))).toEqual([]);

    // --copy-chunker-params across formats would silently give the new repository another format's chunker.
    const r = await runCli(['-r', 'mixed', 'init', '--format', '1', '--copy-chunker-params', '--from-repo', 'two'], {
      cwd: tmp,
      password: PW,
      env: ENV,
    });
    expect(r.code).not.toBe(0);
  });

  it('migrate: --dry-run changes nothing; the upgrade keeps old snapshots restorable and new data is keyed', async () => {
    const dry = await ok('-r', 'one', 'migrate', '--dry-run');
    expect(dry.out).toContain('would upgrade');
    expect((await config('one')).version).toBe(1);
    await ok('-r', 'one', 'migrate');
    expect((await config('one')).version).toBe(2);
    expect((await config('one')).chunker.algorithm).toBe('gear-keyed');
    await ok('-r', 'one', 'restore', 'latest', '--target', 'out-migrated');
    expect(compareTrees(src, path.join(tmp, 'out-migrated', 'src'))).toEqual([]);
    // The big file is cut anew (no dedupe with its format-1 chunks); the files below min are one chunk either way.
    expect(await forcedBackupAdds('one')).toBeGreaterThan(0);
    await ok('-r', 'one', 'check', '--read-data');
    expect((await ok('-r', 'one', 'migrate')).out).toContain('already is format 2');
  });
});
