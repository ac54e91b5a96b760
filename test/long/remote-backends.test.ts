// The whole life of a repository over restic's REST protocol, through the built CLI, on Debian's real rclone:
// `rest:` to `rclone serve restic` on loopback (with a password in the URL that must never be printed) and
// `rclone:` over `--stdio` with a local remote. Backup, incremental backup, restore, forget --prune,
// check --read-data and copy; then an append-only server: backups work, forget --prune fails cleanly.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastJson, runCli, type CliResult } from '../helpers/cli.js';
import { HAVE_RCLONE, type RcloneServer, startRcloneServer } from '../helpers/rclone-server.js';
import { prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { compareTrees } from '../helpers/tree-gen.js';

const PW = 'remote e2e password';
const URL_SECRET = 's3cr3t-in-url';
let tmp: string;
let src: string;
let server: RcloneServer;
let appendOnly: RcloneServer;
const printed: string[] = [];

const ENV = { RCLONE_CONFIG: '/dev/null' };
async function run(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const r = await runCli(args, { cwd: tmp, password: PW, env: { ...ENV, ...env } });
  printed.push(r.out, r.stderr);
  return r;
}
async function ok(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const r = await run(args, env);
  if (r.code !== 0) throw new Error(`repo ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.out}`);
  return r;
}
const json = (r: CliResult) => lastJson(r.out);

beforeAll(async () => {
  tmp = tempDir('repo-e2e-remote-');
  src = path.join(tmp, 'src');
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  const rand = prng(15);
  fs.writeFileSync(path.join(src, 'big.bin'), randomBuffer(rand, 2_500_000));
  fs.writeFileSync(path.join(src, 'sub', 'small.txt'), 'small file\n');
  if (HAVE_RCLONE) {
    server = await startRcloneServer(['--user', 'backup', '--pass', URL_SECRET]);
    appendOnly = await startRcloneServer(['--append-only']);
  }
});
afterAll(async () => {
  await server?.stop();
  await appendOnly?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(!HAVE_RCLONE)('remote backends through the CLI', () => {
  const cases = [
    {
      name: 'rest: (rclone serve restic on loopback)',
      repo: () => `rest:http://backup:${URL_SECRET}@${server.url.slice('http://'.length)}/laptop`,
    },
    { name: 'rclone: (--stdio, local remote)', repo: () => `rclone::local:${tmp}/rclone-repo` },
  ];
  for (const c of cases) {
    it(`${c.name}: init, backup, incremental backup, restore, forget --prune, check --read-data, copy`, async () => {
      const repo = c.repo();
      const r = (args: string[]) => ok(['-r', repo, ...args]);
      const init = await ok(['-r', repo, '--json', 'init', '--chunker', '64K/256K/1M']);
      expect(json(init).location).not.toContain(URL_SECRET);
      const first = json(await r(['--json', 'backup', 'src', '--host', 'h']));
      expect(first.files_new).toBe(2);
      fs.writeFileSync(path.join(src, 'sub', 'later.txt'), 'added later\n');
      const second = json(await r(['--json', 'backup', 'src', '--host', 'h']));
      expect(second.files_new).toBe(1);
      expect(second.data_added).toBeLessThan(100_000); // the big file is not stored again
      const target = path.join(tmp, `restore-${c.repo().length}`);
      await r(['restore', 'latest', '--target', target, '--verify']);
      expect(compareTrees(src, path.join(target, 'src'))).toEqual([]);

      await r(['forget', '--keep-last', '1', '--prune']);
      expect(json(await r(['--json', 'snapshots']))).toHaveLength(1);
      await r(['check', '--read-data']);

      const local = path.join(tmp, `copy-of-${c.repo().length}`);
      await ok(['-r', local, 'init']);
      const copied = json(
        await ok(['-r', local, '--json', 'copy'], { REPO_FROM_REPOSITORY: repo, REPO_FROM_PASSWORD: PW }),
      );
      expect(copied.copied).toHaveLength(1);
      await ok(['-r', local, 'check', '--read-data']);
      fs.rmSync(path.join(src, 'sub', 'later.txt'));
      // -v shows the requests sent to the remote
      const verbose = await r(['-v', 'snapshots']);
      expect(verbose.stderr).toMatch(/backend requests: \d+ \{"HEAD config":/);
    });
  }

  it('rclone: backs up 64 MiB in full-size packs while the CPU is busy chunking (nghttp2 once refused such streams)', async () => {
    const big = path.join(tmp, 'big-src');
    fs.mkdirSync(big);
    const rand = prng(99);
    for (let i = 0; i < 8; i++) fs.writeFileSync(path.join(big, `f${i}.bin`), randomBuffer(rand, 8 * 1024 * 1024));
    const repo = `rclone:${tmp}/rclone-big`;
    await ok(['-r', repo, 'init']);
    const b = json(await ok(['-r', repo, '--json', 'backup', 'big-src']));
    expect(b.total_bytes_processed).toBe(64 * 1024 * 1024);
    await ok(['-r', repo, 'check', '--read-data']);
    fs.rmSync(big, { recursive: true });
  });

  it('the password of a rest: URL is never printed, in any output of any command above', () => {
    expect(printed.length).toBeGreaterThan(10);
    for (const text of printed) expect(text).not.toContain(URL_SECRET);
  });

  it('--limit-upload limits and still stores everything', async () => {
    const repo = `rest:http://backup:${URL_SECRET}@${server.url.slice('http://'.length)}/limited`;
    await ok(['-r', repo, 'init']);
    await ok(['-r', repo, '--limit-upload', '100000', '--limit-download', '100000', 'backup', 'src']);
    await ok(['-r', repo, '--limit-download', '100000', 'check', '--read-data']);
    const bad = await run(['-r', repo, '--limit-upload', 'fast', 'snapshots']);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe('repo: --limit-upload must be a rate in KiB/s, e.g. 1024');
  });

  it('an append-only server: a backup works, forget --prune fails cleanly and damages nothing', async () => {
    const repo = `rest:${appendOnly.url}/ao`;
    await ok(['-r', repo, 'init']);
    await ok(['-r', repo, 'backup', 'src', '--host', 'h']);
    fs.writeFileSync(path.join(src, 'changed.bin'), randomBuffer(prng(3), 300_000));
    await ok(['-r', repo, 'backup', 'src', '--host', 'h']);
    fs.rmSync(path.join(src, 'changed.bin'));
    const before = fs.readdirSync(path.join(appendOnly.dir, 'ao', 'snapshots')).sort();
    const prune = await run(['-r', repo, 'forget', '--keep-last', '1', '--prune']);
    expect(prune.code).not.toBe(0);
    const lines = prune.stderr
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('warning:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^repo: rest:http:\/\/127\.0\.0\.1:\d+\/ao\/: cannot remove snapshots\/[0-9a-f]{64}: forbidden \(HTTP 403; an append-only server refuses deletions\)$/,
    );
    expect(fs.readdirSync(path.join(appendOnly.dir, 'ao', 'snapshots')).sort()).toEqual(before);
    expect(fs.readdirSync(path.join(appendOnly.dir, 'ao', 'locks'))).toEqual([]); // its lock was removed
    await ok(['-r', repo, 'check', '--read-data']);
  });
});
