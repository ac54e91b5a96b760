// End-to-end tests of `repo copy`, `repo init --copy-chunker-params` and `repo key …` through the built CLI.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastJson, runCli, type CliResult } from '../helpers/cli.js';
import { prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { compareTrees } from '../helpers/tree-gen.js';

let tmp: string;
let src: string;
const SRC_PW = 'source password';
const DST_PW = 'destination password';

function run(args: string[], password: string, env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return runCli(args, { cwd: tmp, password, env });
}
async function ok(args: string[], password: string, env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const r = await run(args, password, env);
  if (r.code !== 0) throw new Error(`repo ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.out}`);
  return r;
}
const json = (r: CliResult) => lastJson(r.out);

beforeAll(async () => {
  tmp = tempDir('repo-e2e-copy-');
  src = path.join(tmp, 'src');
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  const rand = prng(21);
  fs.writeFileSync(path.join(src, 'big.bin'), randomBuffer(rand, 1_500_000));
  fs.writeFileSync(path.join(src, 'sub', 'small.txt'), 'small file\n');
  fs.symlinkSync('big.bin', path.join(src, 'link'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('repo copy', () => {
  it('init --copy-chunker-params takes the source chunker; copy copies, a second copy copies nothing; restores are identical', async () => {
    const a = path.join(tmp, 'a');
    const b = path.join(tmp, 'b');
    await ok(['-r', a, 'init', '--chunker', '16K/64K/256K'], SRC_PW);
    await ok(['-r', a, 'backup', 'src', '--tag', 'one', '--host', 'h1'], SRC_PW);
    fs.writeFileSync(path.join(src, 'sub', 'new.txt'), 'added later\n');
    await ok(['-r', a, 'backup', 'src', '--tag', 'two', '--host', 'h1'], SRC_PW);

    // The source password comes from REPO_FROM_PASSWORD; the destination's from REPO_PASSWORD.
    const bad = await run(
      ['-r', b, 'init', '--copy-chunker-params', '--from-repo', a, '--chunker', '1M/2M/4M'],
      DST_PW,
      { REPO_FROM_PASSWORD: SRC_PW },
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/cannot be combined/);
    expect(fs.existsSync(b)).toBe(false);
    const wrong = await run(['-r', b, 'init', '--copy-chunker-params', '--from-repo', a], DST_PW, {
      REPO_FROM_PASSWORD: 'nope',
    });
    expect(wrong.code).toBe(12);
    expect(fs.existsSync(b)).toBe(false);
    await ok(['-r', b, 'init', '--copy-chunker-params', '--from-repo', a], DST_PW, { REPO_FROM_PASSWORD: SRC_PW });
    const cfgA = json(await ok(['-r', a, 'cat', 'config'], SRC_PW));
    const cfgB = json(await ok(['-r', b, 'cat', 'config'], DST_PW));
    expect(cfgB.chunker).toEqual(cfgA.chunker);
    expect(cfgB.id).not.toBe(cfgA.id);

    const first = json(await ok(['-r', b, '--json', 'copy', '--from-repo', a], DST_PW, { REPO_FROM_PASSWORD: SRC_PW }));
    expect(first.copied).toHaveLength(2);
    expect(first.skipped).toEqual([]);
    const second = json(
      await ok(['-r', b, '--json', 'copy'], DST_PW, { REPO_FROM_REPOSITORY: a, REPO_FROM_PASSWORD: SRC_PW }),
    );
    expect(second.copied).toEqual([]);
    expect(second.skipped).toHaveLength(2);
    expect(second.data_blobs_added + second.tree_blobs_added).toBe(0);

    const srcSnaps = json(await ok(['-r', a, '--json', 'snapshots'], SRC_PW));
    const dstSnaps = json(await ok(['-r', b, '--json', 'snapshots'], DST_PW));
    expect(dstSnaps.map((s: any) => s.original)).toEqual(srcSnaps.map((s: any) => s.id));
    expect(dstSnaps.map((s: any) => [s.time, s.hostname, s.tags])).toEqual(
      srcSnaps.map((s: any) => [s.time, s.hostname, s.tags]),
    );

    const target = path.join(tmp, 'restore-b');
    await ok(['-r', b, 'restore', 'latest', '--target', target, '--verify'], DST_PW);
    expect(compareTrees(src, path.join(target, 'src'))).toEqual([]);
    await ok(['-r', b, 'check', '--read-data'], DST_PW);

    // Same chunker: a backup of the unchanged source into b stores no data.
    const bk = json(await ok(['-r', b, '--json', 'backup', 'src', '--host', 'h1', '--force'], DST_PW));
    expect(bk.data_blobs).toBe(0); // only trees can be new (comparing the restore read the files: new access times)
    expect(bk.data_added).toBeLessThan(10_000);
  });

  it('copies only the snapshots asked for (ids or filters), with a password file for the source', async () => {
    const a = path.join(tmp, 'a');
    const c = path.join(tmp, 'c');
    const pwFile = path.join(tmp, 'src-pw');
    fs.writeFileSync(pwFile, `${SRC_PW}\n`);
    await ok(['-r', c, 'init'], DST_PW);
    const byTag = json(
      await ok(['-r', c, '--json', 'copy', '--from-repo', a, '--from-password-file', pwFile, '--tag', 'one'], DST_PW),
    );
    expect(byTag.copied).toHaveLength(1);
    const snaps = json(await ok(['-r', a, '--json', 'snapshots'], SRC_PW));
    const byId = json(
      await ok(
        ['-r', c, '--json', 'copy', '--from-repo', a, '--from-password-file', pwFile, snaps[1].short_id, snaps[0].id],
        DST_PW,
      ),
    );
    expect(byId.copied.map((x: any) => x.source)).toEqual([snaps[1].id]);
    expect(byId.skipped.map((x: any) => x.source)).toEqual([snaps[0].id]);
    const none = await run(['-r', c, 'copy'], DST_PW);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no source repository given/);
    const noPw = await run(['-r', c, 'copy', '--from-repo', a], DST_PW);
    expect(noPw.code).toBe(1);
    expect(noPw.stderr).toMatch(/no password for the source repository/);
    const same = await run(['-r', a, 'copy', '--from-repo', a], SRC_PW, { REPO_FROM_PASSWORD: SRC_PW });
    expect(same.code).toBe(1);
    expect(same.stderr).toMatch(/same repository/);
  });
});

describe('repo key', () => {
  it('list, add, passwd and remove with their rules', async () => {
    const r = path.join(tmp, 'keys');
    const pw1 = 'first password';
    await ok(['-r', r, 'init'], pw1);
    let keys = json(await ok(['-r', r, '--json', 'key', 'list'], pw1));
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ current: true, id: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const firstId = keys[0].id;

    // No new password and no terminal: a clear error, nothing added.
    const none = await run(['-r', r, 'key', 'add'], pw1);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no new password given/);

    const newPw = path.join(tmp, 'pw2');
    fs.writeFileSync(newPw, 'second password\n');
    const added = await ok(['-r', r, 'key', 'add', '--new-password-file', newPw], pw1);
    expect(added.out).toMatch(/saved new key [0-9a-f]{8}/);
    keys = json(await ok(['-r', r, '--json', 'key', 'list'], 'second password'));
    expect(keys).toHaveLength(2);
    const secondId = keys.find((k: any) => k.current).id;
    expect(secondId).not.toBe(firstId);
    const table = await ok(['-r', r, 'key', 'list'], pw1);
    expect(table.out).toMatch(new RegExp(`\\*\\s+${firstId.slice(0, 8)}`));

    // Not the key in use.
    const inUse = await run(['-r', r, 'key', 'remove', firstId.slice(0, 8)], pw1);
    expect(inUse.code).toBe(1);
    expect(inUse.stderr).toMatch(/key in use/);
    // A wrong password opens nothing.
    expect((await run(['-r', r, 'key', 'list'], 'wrong')).code).toBe(12);
    expect((await run(['-r', r, 'key', 'passwd', '--new-password-file', newPw], 'wrong')).code).toBe(12);

    // passwd: the first password is replaced by a third.
    const thirdPw = path.join(tmp, 'pw3');
    fs.writeFileSync(thirdPw, 'third password\n');
    const changed = json(await ok(['-r', r, '--json', 'key', 'passwd', '--new-password-file', thirdPw], pw1));
    expect(changed.removed).toBe(firstId);
    expect((await run(['-r', r, 'snapshots'], pw1)).code).toBe(12);
    keys = json(await ok(['-r', r, '--json', 'key', 'list'], 'third password'));
    expect(keys.map((k: any) => k.id).sort()).toEqual([changed.added, secondId].sort());

    // Remove the second key using the third password; the third is then the last and stays.
    const removed = json(await ok(['-r', r, '--json', 'key', 'remove', secondId], 'third password'));
    expect(removed.removed).toBe(secondId);
    expect((await run(['-r', r, 'snapshots'], 'second password')).code).toBe(12);
    const last = await run(['-r', r, 'key', 'remove', changed.added], 'third password');
    expect(last.code).toBe(1);
    expect(last.stderr).toMatch(/key in use|last key/);
    const unknown = await run(['-r', r, 'key', 'remove', 'abcdef'], 'third password');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no key with id abcdef/);
    expect(json(await ok(['-r', r, '--json', 'key', 'list'], 'third password'))).toHaveLength(1);
  });
});
