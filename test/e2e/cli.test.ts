// End-to-end tests of the built `repo` command (dist/bundle/repo.js) run as a subprocess, as a user would.
// Covers the round trip, dedupe, snapshot references, every error exit code, stdin/command backups, dump, cat and Ctrl-C.

import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareTrees, generateTree } from '../helpers/tree-gen.js';
import { CLI, ROOT, cliEnv, lastJson, runCli, type CliOptions, type CliResult } from '../helpers/cli.js';

const PASSWORD = 'e2e correct horse';
const MARKER = 'ZQX-distinctive-7f3a9c-plaintext-ZQX';
const NAME_MARKER = 'ZQX-secret-file-name-ZQX';
const isRoot = process.getuid?.() === 0;

type Result = CliResult;

let tmp: string;
let repo: string;
let src: string;

function run(args: string[], opts: Omit<CliOptions, 'cwd' | 'password'> = {}): Promise<Result> {
  return runCli(args, { ...opts, cwd: tmp, password: PASSWORD });
}

/** Runs the CLI against the main test repository and expects success. */
async function ok(args: string[], opts: Parameters<typeof run>[1] = {}): Promise<Result> {
  const r = await run(['-r', repo, ...args], opts);
  if (r.code !== 0) throw new Error(`repo ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r;
}

const json = (r: Result) => lastJson(r.out);
const noStack = (stderr: string) => expect(stderr).not.toMatch(/^\s+at /m);

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) newest = Math.max(newest, fs.statSync(path.join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

function allFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

beforeAll(() => {
  // `npm test` builds first; a direct `vitest run` gets a build here when dist is missing or stale.
  if (!fs.existsSync(CLI) || fs.statSync(CLI).mtimeMs < newestMtime(path.join(ROOT, 'src'))) {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-e2e-'));
  repo = path.join(tmp, 'repo');
  src = path.join(tmp, 'src');
  generateTree(src, { seed: 4242, maxDepth: 3, maxEntries: 6, maxChunk: 2 * 1024 * 1024 });
  fs.writeFileSync(path.join(src, 'marker.txt'), `${MARKER}\n`.repeat(50));
  fs.writeFileSync(path.join(src, `${NAME_MARKER}.txt`), 'name only\n');
  fs.writeFileSync(path.join(src, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  fs.chmodSync(path.join(src, 'run.sh'), 0o755);
  fs.mkdirSync(path.join(src, 'empty-dir'));
  fs.writeFileSync(path.join(src, 'empty-file'), '');
  fs.symlinkSync('marker.txt', path.join(src, 'link-to-marker'));
  fs.symlinkSync('does/not/exist', path.join(src, 'dangling'));
  fs.utimesSync(path.join(src, 'marker.txt'), 1_600_000_000.123456, 1_600_000_000.123456);
  fs.utimesSync(src, 1_600_000_100, 1_600_000_100);
}, 120_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('repo CLI', () => {
  let first: Record<string, any>;
  let second: Record<string, any>;

  it('version and help', async () => {
    const v = await run(['version']);
    expect(v.code).toBe(0);
    expect(v.out).toMatch(/^repo 0\.1\.0 \(format 2, node v\d+/);
    expect(json(await run(['--json', 'version']))).toMatchObject({ version: '0.1.0', format: 2 });
    const dashed = await run(['--version']);
    expect(dashed.code).toBe(0);
    expect(dashed.out).toBe(v.out);
    const h = await run(['--help']);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/Exit codes:[\s\S]*\n  2 [\s\S]*130/);
    const bad = await run(['frobnicate']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^repo: unknown command 'frobnicate'/);
  });

  it('init creates a repository; a second init fails with exit 1', async () => {
    const r = await ok(['--json', 'init']);
    const info = json(r);
    expect(info.id).toMatch(/^[0-9a-f]{64}$/);
    expect(info).toMatchObject({ compression: 'auto', pack_size: 16 * 1024 * 1024 });
    expect(info.chunker.min).toBeGreaterThan(0);
    const again = await run(['-r', repo, 'init']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^repo: a repository already exists at /);
    noStack(again.stderr);
  });

  it('init refuses to run without any password source and no terminal', async () => {
    const r = await run(['-r', path.join(tmp, 'nopw'), 'init'], { env: { REPO_PASSWORD: undefined } });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('repo: no password given: set REPO_PASSWORD, --password-file or --password-command');
    expect(fs.existsSync(path.join(tmp, 'nopw'))).toBe(false);
  });

  it('backs up a tree and reports the summary as JSON', async () => {
    const r = await ok(['--json', 'backup', 'src', '--tag', 'e2e,first', '--host', 'e2e-host']);
    first = json(r);
    expect(first.snapshot_id).toMatch(/^[0-9a-f]{64}$/);
    expect(first.warnings).toEqual([]);
    expect(first.files_new).toBeGreaterThan(3);
    expect(first.data_added).toBeGreaterThan(0);
  });

  it('a second backup of the same tree adds (almost) nothing', async () => {
    second = json(await ok(['--json', 'backup', 'src', '--host', 'e2e-host', '--time', '2030-01-02 03:04:05']));
    expect(second.snapshot_id).not.toBe(first.snapshot_id);
    expect(second.parent).toBe(first.snapshot_id);
    expect(second.data_blobs).toBe(0);
    expect(second.data_added).toBe(0); // unchanged trees keep their ids: not even a tree blob is new
  });

  it('snapshots --json lists both with the documented fields; filters and --latest work', async () => {
    const list = json(await ok(['--json', 'snapshots']));
    expect(list.map((s: any) => s.id)).toEqual([first.snapshot_id, second.snapshot_id]);
    for (const k of [
      'id',
      'short_id',
      'time',
      'tree',
      'paths',
      'hostname',
      'username',
      'uid',
      'gid',
      'tags',
      'program_version',
      'summary',
    ]) {
      expect(list[0]).toHaveProperty(k);
    }
    expect(list[0].tags).toEqual(['e2e', 'first']);
    expect(list[1].time).toMatch(/^2030-01-0[12]T/);
    expect(json(await ok(['--json', 'snapshots', '--tag', 'first'])).map((s: any) => s.id)).toEqual([
      first.snapshot_id,
    ]);
    expect(json(await ok(['--json', 'snapshots', '--latest', '1'])).map((s: any) => s.id)).toEqual([
      second.snapshot_id,
    ]);
    expect(json(await ok(['--json', 'snapshots', '--host', 'nobody']))).toEqual([]);
    const table = (await ok(['snapshots'])).out;
    expect(table).toContain(first.snapshot_id.slice(0, 8));
    expect(table).toMatch(/2 snapshots/);
  });

  it('ls resolves latest and id prefixes, lists recursively, and prints NDJSON with --json', async () => {
    const paths = (await ok(['ls', first.snapshot_id.slice(0, 8)])).out.trim().split('\n');
    expect(paths).toContain('/src');
    expect(paths).toContain('/src/marker.txt');
    expect(paths).toContain('/src/empty-dir');
    const lines = (await ok(['--json', 'ls', 'latest'])).out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ struct_type: 'snapshot', id: second.snapshot_id });
    const marker = lines.find((l) => l.path === '/src/marker.txt');
    expect(marker).toMatchObject({
      struct_type: 'node',
      type: 'file',
      name: 'marker.txt',
      size: MARKER.length * 50 + 50,
    });
    for (const k of ['uid', 'gid', 'mode', 'mtime', 'atime', 'ctime']) expect(marker).toHaveProperty(k);
    const long = (await ok(['ls', '-l', 'latest', '/src/run.sh'])).out;
    expect(long).toMatch(/^-rwxr-xr-x .* \/src\/run\.sh$/m);
    const link = (await ok(['ls', '-l', 'latest', '/src/link-to-marker'])).out;
    expect(link).toMatch(/^l.* \/src\/link-to-marker -> marker\.txt$/m);
    // `latest` honours filters: with --tag first it is the first snapshot.
    const firstByTag = (await ok(['--json', 'ls', 'latest', '--tag', 'first', '/src/empty-file'])).out.split('\n')[0];
    expect(JSON.parse(firstByTag).id).toBe(first.snapshot_id);
  });

  it('an unknown or ambiguous snapshot reference is a clear error', async () => {
    const r = await run(['-r', repo, 'ls', 'ffffffffffff']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^repo: no snapshot with id ffffffffffff/);
    noStack(r.stderr);
    const s = await run(['-r', repo, 'ls', 'latest', '/src/nope']);
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/not found in snapshot/);
  });

  it('restore reproduces the tree: bytes, modes, mtimes, symlinks', async () => {
    const target = path.join(tmp, 'restore1');
    const r = json(await ok(['--json', 'restore', 'latest', '--target', target, '--verify']));
    expect(r).toMatchObject({ snapshot_id: second.snapshot_id, warnings: 0 });
    expect(r.verified).toBe(r.files);
    expect(compareTrees(src, path.join(target, 'src'))).toEqual([]);
  });

  it('restore SNAPSHOT:PATH with --include restores only the selection', async () => {
    const target = path.join(tmp, 'restore2');
    await ok([
      'restore',
      `${first.snapshot_id.slice(0, 10)}:src`,
      '--target',
      target,
      '--include',
      '/marker.txt',
      '--include',
      '/run.sh',
    ]);
    expect(fs.readdirSync(target).sort()).toEqual(['marker.txt', 'run.sh']);
    expect(fs.readFileSync(path.join(target, 'marker.txt'), 'utf8')).toBe(`${MARKER}\n`.repeat(50));
    expect(fs.statSync(path.join(target, 'run.sh')).mode & 0o777).toBe(0o755);
  });

  it('dump writes a file as bytes and a directory as a tar that the system tar extracts', async () => {
    const f = await ok(['dump', 'latest', '/src/marker.txt']);
    expect(f.stdout.equals(fs.readFileSync(path.join(src, 'marker.txt')))).toBe(true);
    const tarFile = path.join(tmp, 'src.tar');
    fs.writeFileSync(tarFile, (await ok(['dump', 'latest', '/src'])).stdout);
    const out = path.join(tmp, 'untar');
    fs.mkdirSync(out);
    execFileSync('tar', ['-xpf', tarFile, '-C', out]);
    // tar keeps whole seconds; directory times are not compared (ustar has no sub-second times).
    const diffs = compareTrees(src, path.join(out, 'src'), { dirTimes: false }).filter((d) => {
      const m = /^(.*): mtime (\d+) != (\d+)$/.exec(d);
      return !(m && BigInt(m[2]) / 1_000_000_000n === BigInt(m[3]) / 1_000_000_000n);
    });
    expect(diffs).toEqual([]);
  });

  it('cat prints config, snapshot, tree, index, pack and key as JSON and a blob as raw bytes; never the master key', async () => {
    const config = json(await ok(['cat', 'config']));
    expect(config).toMatchObject({ version: 2, compression: 'auto' });
    expect(json(await ok(['cat', 'snapshot', first.snapshot_id.slice(0, 12)])).tree).toMatch(/^[0-9a-f]{64}$/);
    const tree = json(await ok(['cat', 'tree', 'latest:src']));
    const markerNode = tree.nodes.find((n: any) => n.name === 'marker.txt');
    expect(markerNode.content).toHaveLength(1);
    const blob = await ok(['cat', 'blob', markerNode.content[0]]);
    expect(blob.stdout.equals(fs.readFileSync(path.join(src, 'marker.txt')))).toBe(true);
    const indexName = fs.readdirSync(path.join(repo, 'index'))[0];
    const index = json(await ok(['cat', 'index', indexName]));
    expect(index.packs.length).toBeGreaterThan(0);
    expect(index.packs[0].blobs[0]).toHaveProperty('uncompressed_length');
    const packId = index.packs[0].id;
    const pack = json(await ok(['cat', 'pack', packId.slice(0, 16)]));
    expect(pack.blobs.map((b: any) => b.id).sort()).toEqual(index.packs[0].blobs.map((b: any) => b.id).sort());
    const keyName = fs.readdirSync(path.join(repo, 'keys'))[0];
    const key = json(await ok(['cat', 'key', keyName]));
    expect(key).toMatchObject({ kdf: 'scrypt' });
    expect(key).not.toHaveProperty('data');
    const mk = await run(['-r', repo, 'cat', 'masterkey']);
    expect(mk.code).toBe(1);
    expect(mk.out).toBe('');
  });

  it('wrong password → exit 12; missing repository and a plain folder → exit 10', async () => {
    const wrong = await run(['-r', repo, 'snapshots'], { env: { REPO_PASSWORD: 'not the password' } });
    expect(wrong.code).toBe(12);
    expect(wrong.stderr).toMatch(/^repo: wrong password/);
    expect(wrong.stderr).not.toContain('not the password');
    noStack(wrong.stderr);
    const missing = await run(['-r', path.join(tmp, 'no-such-repo'), 'snapshots']);
    expect(missing.code).toBe(10);
    expect(missing.stderr).toMatch(/^repo: no repository at /);
    const folder = await run(['-r', src, 'snapshots']);
    expect(folder.code).toBe(10);
    expect(folder.stderr).toMatch(/is not a repository/);
    const viaEnv = await run(['snapshots', '--json'], { env: { REPO_REPOSITORY: repo } });
    expect(viaEnv.code).toBe(0);
  });

  it('password file and password command are honoured; a failing password command is an error', async () => {
    const pwFile = path.join(tmp, 'pw.txt');
    fs.writeFileSync(pwFile, `${PASSWORD}\nsecond line ignored\n`);
    expect(
      (await run(['-r', repo, '--password-file', pwFile, 'snapshots'], { env: { REPO_PASSWORD: undefined } })).code,
    ).toBe(0);
    expect(
      (
        await run(['-r', repo, 'snapshots'], {
          env: { REPO_PASSWORD: undefined, REPO_PASSWORD_COMMAND: `printf '%s\\n' '${PASSWORD}'` },
        })
      ).code,
    ).toBe(0);
    const failing = await run(['-r', repo, '--password-command', 'exit 7', 'snapshots'], {
      env: { REPO_PASSWORD: undefined },
    });
    expect(failing.code).toBe(1);
    expect(failing.stderr).toMatch(/password command exited with code 7/);
    const onCli = await run(['-r', repo, '--password=hunter2', 'snapshots']);
    expect(onCli.code).toBe(1);
    expect(onCli.stderr).not.toContain('hunter2');
  });

  it('backing up a missing path fails with exit 1 and one line, no stack trace', async () => {
    const missing = path.join(tmp, 'does-not-exist');
    const r = await run(['-r', repo, 'backup', missing]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`repo: cannot back up ${missing}: no such file or directory`);
  });

  it.skipIf(isRoot)(
    'an unreadable source file → warning, snapshot saved, exit 3 (skipped when run as root: root reads every file)',
    async () => {
      const dir = path.join(tmp, 'partly-unreadable');
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'ok.txt'), 'fine');
      fs.writeFileSync(path.join(dir, 'secret.txt'), 'hidden');
      fs.chmodSync(path.join(dir, 'secret.txt'), 0o000);
      const before = json(await ok(['--json', 'snapshots'])).length;
      const r = await run(['-r', repo, '--json', 'backup', dir]);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(
        /^\{"message_type":"error","error":\{"message":"cannot open: permission denied"\},"during":"archival","item":".*secret\.txt"\}$/m,
      );
      expect(json(r).warnings[0]).toMatchObject({ skipped: true });
      expect(json(await ok(['--json', 'snapshots'])).length).toBe(before + 1);
    },
  );

  it('--stdin and --stdin-from-command back up streams; a failing command saves no snapshot', async () => {
    const before = json(await ok(['--json', 'snapshots'])).length;
    const stdinData = randomBytes(300_000);
    const s = json(await ok(['--json', 'backup', '--stdin', '--stdin-filename', 'blob.bin'], { input: stdinData }));
    expect(s.snapshot_id).toMatch(/^[0-9a-f]{64}$/);
    expect((await ok(['dump', s.snapshot_id, '/blob.bin'])).stdout.equals(stdinData)).toBe(true);

    const failing = await run(['-r', repo, 'backup', '--stdin-from-command', '--', 'sh', '-c', 'echo hi; exit 3']);
    expect(failing.code).toBe(1);
    expect(failing.stderr).toMatch(/^repo: command sh exited with code 3/);
    noStack(failing.stderr);
    expect(json(await ok(['--json', 'snapshots'])).length).toBe(before + 1);

    const good = json(
      await ok(['--json', 'backup', '--stdin-from-command', '--stdin-filename', 'abc.txt', '--', 'printf', 'abc']),
    );
    expect((await ok(['dump', good.snapshot_id, 'abc.txt'])).out).toBe('abc');
    expect(json(await ok(['--json', 'snapshots'])).length).toBe(before + 2);
  });

  it('no plaintext or file name from the backup appears anywhere in the repository bytes', () => {
    const needles = [Buffer.from(MARKER), Buffer.from(NAME_MARKER), Buffer.from('#!/bin/sh\necho hi')];
    for (const file of allFiles(repo)) {
      const bytes = fs.readFileSync(file);
      for (const n of needles) expect(bytes.includes(n), `${n} in ${file}`).toBe(false);
    }
  });

  it('a flipped byte in a data pack makes restore fail with exit 1, naming the pack file', async () => {
    const copy = path.join(tmp, 'repo-damaged');
    fs.cpSync(repo, copy, { recursive: true });
    const tree = json(await ok(['cat', 'tree', 'latest:src']));
    const content = tree.nodes.find((n: any) => n.name === 'marker.txt').content[0];
    const packId = allFiles(path.join(copy, 'data'))
      .map((f) => path.basename(f))
      .find((id) => {
        const raw = execFileSync(process.execPath, [CLI, '-r', copy, 'cat', 'pack', id], {
          env: cliEnv(PASSWORD),
        }).toString();
        return JSON.parse(raw).blobs.some((b: any) => b.id === content);
      })!;
    const pack = JSON.parse(
      execFileSync(process.execPath, [CLI, '-r', copy, 'cat', 'pack', packId], { env: cliEnv(PASSWORD) }).toString(),
    );
    const entry = pack.blobs.find((b: any) => b.id === content);
    const file = path.join(copy, 'data', packId.slice(0, 2), packId);
    const bytes = fs.readFileSync(file);
    bytes[entry.offset + 30] ^= 0x01;
    fs.writeFileSync(file, bytes);
    const r = await run(['-r', copy, 'restore', 'latest', '--target', path.join(tmp, 'restore-damaged')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`data/${packId.slice(0, 2)}/${packId}`);
    noStack(r.stderr);
  });

  it('Ctrl-C during a large backup exits 130, saves no snapshot, and leaves a usable repository', async () => {
    const bigRepo = path.join(tmp, 'repo-big');
    const big = path.join(tmp, 'big');
    fs.mkdirSync(big);
    for (let i = 0; i < 8; i++) fs.writeFileSync(path.join(big, `f${i}`), randomBytes(25 * 1024 * 1024));
    expect((await run(['-r', bigRepo, 'init'])).code).toBe(0);
    let pid = 0;
    const running = run(['-r', bigRepo, 'backup', big], { onSpawn: (p) => (pid = p) });
    // Interrupt once the first pack is on disk: the backup is then certainly under way.
    const deadline = Date.now() + 20_000;
    const hasPack = () =>
      fs.readdirSync(path.join(bigRepo, 'data'), { recursive: true }).some((n) => /[0-9a-f]{64}$/.test(String(n)));
    while (!hasPack() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    process.kill(pid, 'SIGINT');
    const r = await running;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/interrupted/);
    noStack(r.stderr);
    const list = await run(['-r', bigRepo, '--json', 'snapshots']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.out)).toEqual([]);
    expect(fs.readdirSync(path.join(bigRepo, 'locks'))).toEqual([]);
    fs.rmSync(big, { recursive: true, force: true });
  }, 60_000);
});
