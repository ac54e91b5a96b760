// The CLI against a real OpenSSH server end to end: sshd on loopback, `-r sftp://USER@127.0.0.1:PORT//path`
// or `-r sftp:testhost:/path` (an alias of the fake HOME's ~/.ssh/config), as a user would run it. init,
// backups, restore, forget --prune, check --read-data, copy between local and SFTP, a server killed in
// the middle of a backup, and the one-line errors of bad input. Talks only to the sshd it starts.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blake3 } from '../../src/crypto/blake3.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/repo.js';
import { filesUnder, remoteE2e, writeIncompressibleFiles } from '../helpers/remote-e2e.js';
import { startSshd, type SshdServer } from '../helpers/sshd.mjs';
import { generateTree } from '../helpers/tree-gen.js';

const PASSWORD = 'sftp e2e correct horse';
const LONG = 600_000;

let srv: SshdServer;
let tmp: string;
let small: string; // a few MB in a tree of directories
let big: string; // ~60 MB of incompressible files

function run(repo: string, args: string[], extra: Record<string, string | undefined> = {}): Promise<CliResult> {
  return runCli(['-r', repo, ...args], {
    cwd: tmp,
    password: PASSWORD,
    env: { ...srv.env, REPO_CACHE_DIR: path.join(tmp, 'cache'), ...extra },
  });
}

const { ok, json, restoreAndCompare } = remoteE2e(run);

/** One line on stderr, naming the sftp backend, without a stack trace. */
function expectOneLine(r: CliResult, pattern: RegExp): void {
  expect(r.code, r.stderr).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^repo: sftp /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

beforeAll(async () => {
  srv = await startSshd();
  tmp = tempDir('repo-sftp-e2e-');
  small = path.join(tmp, 'small');
  generateTree(small, { seed: 3, maxChunk: 300_000, maxDepth: 4, maxEntries: 12 });
  big = path.join(tmp, 'big');
  writeIncompressibleFiles(big, 7, 15);
}, LONG);

afterAll(async () => {
  await srv?.stop();
  if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('repo over SFTP (OpenSSH on loopback)', () => {
  it(
    'init, backup, incremental backup, restore, forget --prune, check --read-data',
    async () => {
      const dir = path.join(srv.data, 'main');
      const repo = srv.url(dir);
      const init = await ok(repo, ['init', '--chunker', '64K/256K/1M']);
      expect(init.out).toContain('created repository');
      expect(fs.existsSync(path.join(dir, 'config'))).toBe(true);
      expect((await run(repo, ['init'])).code).toBe(1); // exists

      const first = await json(repo, ['backup', small, '--tag', 'first']);
      expect(first.files_new).toBeGreaterThan(0);
      fs.writeFileSync(path.join(small, 'changed.txt'), 'a file added for the second backup\n');
      // The same repository through the ~/.ssh/config alias.
      const alias = `sftp:testhost:${dir}`;
      const second = await json(alias, ['backup', small, '--tag', 'second']);
      expect(second.parent).toBe(first.snapshot_id);
      expect(second.files_new).toBe(1);

      const snaps = await json<any[]>(repo, ['snapshots']);
      expect(snaps.map((s) => s.id)).toEqual([first.snapshot_id, second.snapshot_id]);
      await restoreAndCompare(repo, 'latest', small, path.join(tmp, 'restore-main'));

      await ok(repo, ['forget', '--keep-last', '1', '--prune', '--max-unused', '0%']);
      expect((await json<any[]>(repo, ['snapshots'])).map((s) => s.id)).toEqual([second.snapshot_id]);
      const check = await json(repo, ['check', '--read-data']);
      expect(check.ok).toBe(true);
      await restoreAndCompare(alias, 'latest', small, path.join(tmp, 'restore-main-2'));
      fs.rmSync(path.join(small, 'changed.txt'));
      expect(filesUnder(dir).filter((f) => path.basename(f).startsWith('.tmp-'))).toEqual([]);
    },
    LONG,
  );

  it(
    'copy local → SFTP and SFTP → local: copied snapshots restore identically; a second copy copies nothing',
    async () => {
      const local = path.join(tmp, 'copy-local');
      const remote = srv.url(path.join(srv.data, 'copy-remote'));
      const back = path.join(tmp, 'copy-back');
      await ok(local, ['init', '--chunker', '64K/256K/1M']);
      await ok(local, ['backup', small, '--tag', 'copied']);
      const from = { REPO_FROM_PASSWORD: PASSWORD };
      await ok(remote, ['init', '--copy-chunker-params', '--from-repo', local], from);
      expect((await json(remote, ['copy', '--from-repo', local], from)).copied).toHaveLength(1);
      expect((await json(remote, ['copy', '--from-repo', local], from)).copied).toEqual([]);
      await restoreAndCompare(remote, 'latest', small, path.join(tmp, 'restore-copy-remote'));

      await ok(back, ['init']);
      expect((await ok(back, ['copy', '--from-repo', remote], from)).out).toMatch(/1 snapshot copied/);
      expect((await json(back, ['copy', '--from-repo', remote], from)).skipped).toHaveLength(1);
      const snaps = await json<any[]>(back, ['snapshots']);
      expect(snaps[0].tags).toEqual(['copied']);
      await restoreAndCompare(back, 'latest', small, path.join(tmp, 'restore-copy-back'));
      expect((await json(back, ['check', '--read-data'])).ok).toBe(true);
      expect((await json(remote, ['check', '--read-data'])).ok).toBe(true);
    },
    LONG,
  );

  it(
    'the server killed and restarted in the middle of a backup: the backup reconnects; check passes; no partial file under a final name',
    async () => {
      const dir = path.join(srv.data, 'crash');
      const repo = srv.url(dir);
      await ok(repo, ['init']);
      const backup = run(repo, ['--json', 'backup', big]);
      const dataDir = path.join(dir, 'data');
      const deadline = Date.now() + 120_000;
      // Kill the server (listener and every session process) while a pack is being written: a temporary
      // file with bytes in it, after at least one pack has been stored.
      const isTemp = (f: string): boolean => path.basename(f).startsWith('.tmp-');
      while (filesUnder(dataDir).filter((f) => !isTemp(f)).length === 0) {
        if (Date.now() > deadline) throw new Error('the backup never stored a pack');
        await new Promise((r) => setTimeout(r, 10));
      }
      const pids = srv.processes();
      let inFlight: string[] = [];
      while (inFlight.length === 0) {
        if (Date.now() > deadline) throw new Error('the backup never wrote a second pack');
        inFlight = filesUnder(dataDir).filter(
          (f) => isTemp(f) && (fs.statSync(path.join(dataDir, f), { throwIfNoEntry: false })?.size ?? 0) > 0,
        );
      }
      await srv.kill(pids);
      await new Promise((r) => setTimeout(r, 300));
      await srv.restart();
      const r = await backup;
      expect(r.code, r.stderr).toBe(0);
      const leftovers = filesUnder(dir).filter(isTemp);
      console.log(
        `backup with the server killed while writing ${inFlight.join(', ')}: exit 0; temporary files left for prune: ${leftovers.join(', ') || 'none'}; stderr: ${r.stderr.trim() || '(empty)'}`,
      );
      const id = JSON.parse(r.out.trim().split('\n').pop()!).snapshot_id;
      // Every file under a final name is complete: its name is the BLAKE3 of its bytes.
      for (const f of filesUnder(dir)) {
        const name = path.basename(f);
        if (name === 'config' || name.startsWith('.tmp-')) continue;
        expect(blake3(fs.readFileSync(path.join(dir, f))).toString('hex'), f).toBe(name);
      }
      const check = await json(repo, ['check', '--read-data']);
      expect(check.ok, JSON.stringify(check.problems)).toBe(true);
      await restoreAndCompare(repo, id, big, path.join(tmp, 'restore-crash'));
      // prune removes temporary files older than an hour (the ones the dropped connection left behind).
      const old = new Date(Date.now() - 2 * 3600_000);
      for (const f of leftovers) fs.utimesSync(path.join(dir, f), old, old);
      await ok(repo, ['prune']);
      expect(filesUnder(dir).filter(isTemp)).toEqual([]);
    },
    LONG,
  );

  it(
    'bad input: one clear line naming the backend and the operation, no stack trace',
    async () => {
      // Unreachable: nothing listens on port 1.
      expectOneLine(
        await run(`sftp://${srv.user}@127.0.0.1:1//x`, ['snapshots']),
        /cannot connect: connection refused/,
      );
      // Wrong path.
      const missing = await run(srv.url(path.join(srv.data, 'no-such-repo')), ['snapshots']);
      expect(missing.code).toBe(10 /* repository does not exist */);
      expect(missing.stderr.trim().split('\n')).toHaveLength(1);
      expect(missing.stderr).toContain('no repository at sftp://');
      // Unknown host key.
      const empty = path.join(tmp, 'empty_known_hosts');
      fs.writeFileSync(empty, '');
      const other = path.join(tmp, 'home-unknown', '.ssh');
      fs.mkdirSync(other, { recursive: true });
      fs.copyFileSync(path.join(srv.home, '.ssh', 'id_ed25519'), path.join(other, 'id_ed25519'));
      expectOneLine(
        await run(srv.url(path.join(srv.data, 'main')), ['snapshots'], { HOME: path.dirname(other) }),
        new RegExp(`is not known \\(ssh-ed25519 key ${srv.fingerprint.replace(/[+/]/g, '\\$&')};`),
      );
      // Refused authentication: no key at all.
      const nokey = path.join(tmp, 'home-nokey', '.ssh');
      fs.mkdirSync(nokey, { recursive: true });
      fs.copyFileSync(path.join(srv.home, '.ssh', 'known_hosts'), path.join(nokey, 'known_hosts'));
      expectOneLine(
        await run(srv.url(path.join(srv.data, 'main')), ['snapshots'], { HOME: path.dirname(nokey) }),
        /authentication refused \(no ssh-agent \(SSH_AUTH_SOCK\) and no usable key file\)$/,
      );
      // Permission denied: a read-only SFTP server.
      const ro = await startSshd({ subsystem: 'internal-sftp -R' });
      try {
        const r = await runCli(['-r', ro.url(path.join(ro.data, 'repo')), 'init'], {
          cwd: tmp,
          password: PASSWORD,
          env: ro.env,
        });
        expectOneLine(r, /permission denied: cannot create/);
      } finally {
        await ro.stop();
      }
    },
    LONG,
  );
});
