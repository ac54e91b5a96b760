// The CLI against S3 end to end: s3rver on loopback, `-r s3:http://127.0.0.1:PORT/bucket/prefix` and the
// AWS_* credentials in the environment, as a user would run it. init, backups, restore, forget --prune,
// check --read-data, two backups at once, a server killed in the middle of a backup, copy between local and
// S3, the local cache (--no-cache, REPO_CACHE_DIR), and measurements for the notes: S3 requests of an
// incremental backup with and without the cache, and throughput against a local repository (printed only).
// Must never talk to anything but the s3rver it starts on 127.0.0.1, and must stop it.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/repo.js';
import { filesUnder, remoteE2e, writeIncompressibleFiles } from '../helpers/remote-e2e.js';
import { s3CliEnv, type S3TestServer, startS3Server } from '../helpers/s3server.js';
import { compareTrees, generateTree } from '../helpers/tree-gen.js';

const PASSWORD = 's3 e2e correct horse';
const LONG = 600_000;

let srv: S3TestServer;
let tmp: string;
let cacheDir: string;
let small: string; // a few MB in a tree of directories
let big: string; // ~100 MB of incompressible files
let smallStats: { files: number; bytes: number };

const s3 = (prefix: string) => `s3:${srv.endpoint}/${srv.bucket}/${prefix}`;

function env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    ...s3CliEnv(srv.credentials),
    REPO_CACHE_DIR: cacheDir,
    ...extra,
  };
}

function run(repo: string, args: string[], extra: Record<string, string | undefined> = {}): Promise<CliResult> {
  return runCli(['-r', repo, ...args], { cwd: tmp, password: PASSWORD, env: env(extra) });
}

const { ok, json, restoreAndCompare } = remoteE2e(run);

/** The S3 request counts a `-v` run printed ("backend requests: N {...}"). */
function requests(r: CliResult, label = 'backend'): { total: number; byOp: Record<string, number> } {
  const m = new RegExp(`${label} requests: (\\d+) (\\{.*\\})`).exec(r.stderr);
  if (m === null) throw new Error(`no request counts in the output:\n${r.stderr}`);
  return { total: Number(m[1]), byOp: JSON.parse(m[2]) };
}

function cacheStats(r: CliResult, label = 'backend'): { hits: number; misses: number; writes: number } {
  const m = new RegExp(`${label} cache: (\\{[^}]*\\})`).exec(r.stderr);
  if (m === null) throw new Error(`no cache statistics in the output:\n${r.stderr}`);
  return JSON.parse(m[1]);
}

const mbps = (bytes: number, ms: number) => `${(bytes / 1048576 / (ms / 1000)).toFixed(1)} MiB/s`;

beforeAll(async () => {
  srv = await startS3Server({ bucket: 'e2e' });
  tmp = tempDir('repo-s3-e2e-');
  cacheDir = path.join(tmp, 'cache');
  small = path.join(tmp, 'small');
  smallStats = generateTree(small, { seed: 2, maxChunk: 300_000, maxDepth: 4, maxEntries: 12 }); // 125 files, 8.4 MiB
  big = path.join(tmp, 'big');
  writeIncompressibleFiles(big, 99, 25);
}, LONG);

afterAll(async () => {
  await srv?.stop();
  if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('repo on S3 (s3rver on loopback)', () => {
  it(
    'init, backup, incremental backup, restore, forget --prune, check --read-data',
    async () => {
      const repo = s3('main/repo');
      const init = await ok(repo, ['init', '--chunker', '64K/256K/1M']);
      expect(init.out).toContain(`created repository`);
      expect(init.out).toContain(`${srv.endpoint}/${srv.bucket}/main/repo`);
      expect((await run(repo, ['init'])).code).toBe(1); // exists

      const first = await json(repo, ['backup', small, '--tag', 'first']);
      expect(first.files_new).toBeGreaterThan(0);
      fs.writeFileSync(path.join(small, 'changed.txt'), 'a file added for the second backup\n');
      const second = await json(repo, ['backup', small, '--tag', 'second']);
      expect(second.parent).toBe(first.snapshot_id);
      expect(second.files_new).toBe(1);
      expect(second.files_unmodified).toBe(first.files_new);

      const snaps = await json<any[]>(repo, ['snapshots']);
      expect(snaps.map((s) => s.id)).toEqual([first.snapshot_id, second.snapshot_id]);
      await restoreAndCompare(repo, 'latest', small, path.join(tmp, 'restore-main'));
      const ls = await ok(repo, ['ls', 'latest']);
      expect(ls.out).toContain('/changed.txt');

      const forget = await ok(repo, ['forget', '--keep-last', '1', '--prune', '--max-unused', '0%']);
      expect(forget.code).toBe(0);
      expect((await json<any[]>(repo, ['snapshots'])).map((s) => s.id)).toEqual([second.snapshot_id]);
      const check = await json(repo, ['check', '--read-data']);
      expect(check.ok).toBe(true);
      await restoreAndCompare(repo, 'latest', small, path.join(tmp, 'restore-main-2'));
      fs.rmSync(path.join(small, 'changed.txt'));
    },
    LONG,
  );

  it(
    'the local cache: snapshots, ls and an incremental backup download no metadata again; --no-cache and REPO_CACHE_DIR',
    async () => {
      const repo = s3('cache/repo');
      await ok(repo, ['init']);
      await ok(repo, ['backup', small]);
      const id = JSON.parse((await ok(repo, ['cat', 'config'])).out).id as string;
      const root = path.join(cacheDir, id);
      const cached = filesUnder(root);
      expect(cached.some((f) => f.startsWith('index/'))).toBe(true);
      expect(cached.some((f) => f.startsWith('snapshots/'))).toBe(true);
      expect(cached.some((f) => f.startsWith('data/'))).toBe(true); // the tree pack, written through

      // Warm cache: listing and browsing fetch no index, snapshot or pack; only keys, config and locks.
      const warmLs = await ok(repo, ['-v', 'ls', 'latest']);
      expect(cacheStats(warmLs).misses).toBe(0);
      expect(cacheStats(warmLs).hits).toBeGreaterThan(0);
      const lsReq = requests(warmLs);

      // --no-cache: the same command downloads index, snapshot and trees, and writes nothing to the cache.
      const otherCache = path.join(tmp, 'other-cache');
      const coldLs = await ok(repo, ['-v', '--no-cache', 'ls', 'latest'], { REPO_CACHE_DIR: otherCache });
      expect(coldLs.out).toBe(warmLs.out);
      expect(requests(coldLs).byOp.GetObject).toBeGreaterThan(lsReq.byOp.GetObject ?? 0);
      expect(coldLs.stderr).not.toMatch(/backend cache:/);
      expect(fs.existsSync(otherCache)).toBe(false);

      // REPO_CACHE_DIR elsewhere: a cold cache there, filled by the first command and used by the second.
      const fresh = path.join(tmp, 'fresh-cache');
      const cold = await ok(repo, ['-v', 'ls', 'latest'], { REPO_CACHE_DIR: fresh });
      expect(cacheStats(cold).misses).toBeGreaterThan(0);
      expect(filesUnder(path.join(fresh, id)).length).toBeGreaterThan(0);
      const warm = await ok(repo, ['-v', 'snapshots'], { REPO_CACHE_DIR: fresh });
      expect(cacheStats(warm).misses).toBe(0);

      // A damaged cache entry is fetched again, silently.
      const snapFile = filesUnder(path.join(fresh, id)).find((f) => f.startsWith('snapshots/'))!;
      fs.writeFileSync(path.join(fresh, id, snapFile), 'garbage');
      const repaired = await ok(repo, ['-v', 'snapshots'], { REPO_CACHE_DIR: fresh });
      expect(cacheStats(repaired).misses).toBe(1);
      expect(repaired.out).toBe(warm.out);

      // Requests of one incremental backup of the unchanged tree, with the (warm) cache and without.
      const withCache = await ok(repo, ['-v', 'backup', small]);
      const without = await ok(repo, ['-v', '--no-cache', 'backup', small]);
      const a = requests(withCache);
      const b = requests(without);
      console.log(
        `S3 requests of an incremental backup of an unchanged tree (${smallStats.files} files, ${(smallStats.bytes / 1048576).toFixed(1)} MiB): with the cache ${a.total} ${JSON.stringify(a.byOp)}; without ${b.total} ${JSON.stringify(b.byOp)}`,
      );
      console.log(
        `S3 requests of "ls latest": with the cache ${lsReq.total} ${JSON.stringify(lsReq.byOp)}; without ${requests(coldLs).total} ${JSON.stringify(requests(coldLs).byOp)}`,
      );
      expect(cacheStats(withCache).misses).toBe(0);
      expect(a.total).toBeLessThan(b.total);
      expect(a.byOp.GetObject ?? 0).toBeLessThan(b.byOp.GetObject ?? 0);
    },
    LONG,
  );

  it(
    'two processes back up into the same repository at once; both snapshots restore and check passes',
    async () => {
      const repo = s3('concurrent/repo');
      await ok(repo, ['init', '--chunker', '64K/256K/1M']);
      const other = path.join(tmp, 'other-src');
      generateTree(other, { seed: 6, maxChunk: 300_000, maxDepth: 4, maxEntries: 12 }); // 36 files, 3.2 MiB
      const [r1, r2] = await Promise.all([
        run(repo, ['--json', 'backup', small]),
        run(repo, ['--json', 'backup', other]),
      ]);
      expect([r1.code, r2.code], r1.stderr + r2.stderr).toEqual([0, 0]);
      const id1 = JSON.parse(r1.out.trim().split('\n').pop()!).snapshot_id;
      const id2 = JSON.parse(r2.out.trim().split('\n').pop()!).snapshot_id;
      expect((await json<any[]>(repo, ['snapshots'])).map((s) => s.id).sort()).toEqual([id1, id2].sort());
      expect((await json(repo, ['check', '--read-data'])).ok).toBe(true);
      await restoreAndCompare(repo, id1, small, path.join(tmp, 'restore-c1'));
      await restoreAndCompare(repo, id2, other, path.join(tmp, 'restore-c2'));
    },
    LONG,
  );

  it(
    'throughput: ~100 MB backed up and restored over loopback S3 and into a local repository (printed)',
    async () => {
      const bytes = filesUnder(big).reduce((n, f) => n + fs.statSync(path.join(big, f)).size, 0);
      const results: string[] = [];
      for (const [name, repo] of [
        ['local', path.join(tmp, 'tp-local')],
        ['s3', s3('throughput/repo')],
      ] as const) {
        await ok(repo, ['init']);
        let t = Date.now();
        await ok(repo, ['backup', big]);
        const backupMs = Date.now() - t;
        const target = path.join(tmp, `tp-restore-${name}`);
        t = Date.now();
        await ok(repo, ['restore', `latest:${path.dirname(big)}`, '--target', target]);
        const restoreMs = Date.now() - t;
        expect(compareTrees(big, path.join(target, 'big'), { dirTimes: false })).toEqual([]);
        results.push(
          `${name}: backup ${(backupMs / 1000).toFixed(2)} s (${mbps(bytes, backupMs)}), restore ${(restoreMs / 1000).toFixed(2)} s (${mbps(bytes, restoreMs)})`,
        );
        fs.rmSync(target, { recursive: true, force: true });
      }
      console.log(
        `throughput for ${(bytes / 1048576).toFixed(0)} MiB of incompressible data (CLI processes, including start-up and key derivation):\n  ${results.join('\n  ')}`,
      );
    },
    LONG,
  );

  it(
    'the server killed and restarted in the middle of a backup: the backup retries or fails cleanly; afterwards check passes',
    async () => {
      const prefix = 'crash/repo';
      const repo = s3(prefix);
      await ok(repo, ['init']);
      const dataDir = path.join(srv.dir, srv.bucket, ...prefix.split('/'), 'data');
      const backup = run(repo, ['--json', 'backup', big]);
      // Kill the server once the backup has started storing packs.
      const deadline = Date.now() + 60_000;
      while (filesUnder(dataDir).length === 0) {
        if (Date.now() > deadline) throw new Error('the backup never stored a pack');
        await new Promise((r) => setTimeout(r, 20));
      }
      await srv.kill();
      await new Promise((r) => setTimeout(r, 500));
      await srv.restart();
      const r = await backup;
      console.log(
        `backup with the server killed and restarted: exit ${r.code}${r.code === 0 ? '' : `: ${r.stderr.trim()}`}`,
      );
      if (r.code === 0) {
        const id = JSON.parse(r.out.trim().split('\n').pop()!).snapshot_id;
        await restoreAndCompare(repo, id, big, path.join(tmp, 'restore-crash'));
      } else {
        // A clean failure: one message, no stack trace, and a later backup works.
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/^repo: /m);
        expect(r.stderr).not.toMatch(/\n\s+at /);
        const again = await json(repo, ['backup', big]);
        await restoreAndCompare(repo, again.snapshot_id, big, path.join(tmp, 'restore-crash'));
      }
      const check = await json(repo, ['check', '--read-data']);
      expect(check.ok, JSON.stringify(check.problems)).toBe(true);
    },
    LONG,
  );

  it(
    'copy local → S3 and S3 → local: copied snapshots restore identically; a second copy copies nothing',
    async () => {
      const local = path.join(tmp, 'copy-local');
      const remote = s3('copy/remote');
      const back = path.join(tmp, 'copy-back');
      await ok(local, ['init', '--chunker', '64K/256K/1M']);
      await ok(local, ['backup', small, '--tag', 'copied']);
      const from = { REPO_FROM_PASSWORD: PASSWORD };
      await ok(remote, ['init', '--copy-chunker-params', '--from-repo', local], from);
      const up = await json(remote, ['copy', '--from-repo', local], from);
      expect(up.copied).toHaveLength(1);
      expect((await json(remote, ['copy', '--from-repo', local], from)).copied).toEqual([]);
      await restoreAndCompare(remote, 'latest', small, path.join(tmp, 'restore-copy-remote'));

      await ok(back, ['init']);
      const down = await ok(back, ['-v', 'copy', '--from-repo', remote], from);
      expect(down.out).toMatch(/1 snapshot copied/);
      expect(requests(down, 'source').total).toBeGreaterThan(0);
      expect((await json(back, ['copy', '--from-repo', remote], from)).skipped).toHaveLength(1);
      const snaps = await json<any[]>(back, ['snapshots']);
      expect(snaps[0].original).toBe((await json<any[]>(local, ['snapshots']))[0].id);
      expect(snaps[0].tags).toEqual(['copied']);
      await restoreAndCompare(back, 'latest', small, path.join(tmp, 'restore-copy-back'));
      expect((await json(back, ['check', '--read-data'])).ok).toBe(true);
      expect((await json(remote, ['check', '--read-data'])).ok).toBe(true);
    },
    LONG,
  );
});
