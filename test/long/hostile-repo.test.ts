// A hostile repository built through the library (forged trees, the password holder as attacker), read back
// through the built CLI by restore, dump (extracted by Python's tarfile.extractall and GNU tar into a jail),
// ls, find and check. The invariants: nothing appears or changes outside the target or jail, no wrong bytes,
// every refusal is one line naming snapshot and tree, exit 1 exactly when something was refused, and no
// command runs away (each has a time limit far below what walking 2^40 paths or 10,000 levels would take).

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idToHex } from '../../src/core/id.js';
import type { Repository } from '../../src/repository/repository.js';
import { saveSnapshot } from '../../src/snapshot/snapshot.js';
import { cliEnv, CLI } from '../helpers/cli.js';
import { localRepo, PASSWORD, tempDir } from '../helpers/repo.js';

const MTIME = '2021-06-07T08:09:10.123456789Z';
const OK_BYTES = Buffer.from('the bytes of the one good file\n');
const LIMIT_MS = 45_000;

interface Case {
  label: string;
  /** Whether readers must refuse something (exit 1) or read it all (exit 0). */
  refuses: boolean;
  /** Whether restore and dump refuse the whole snapshot (expansion bound). */
  whole?: boolean;
  /** Only file contents are wrong: ls and find, which do not read contents, list it all. */
  contentOnly?: boolean;
  snapshot?: string;
  tree?: string;
}

let tmp: string;
let repoDir: string;
let sandbox: string;
let outside: string;
const cases: Case[] = [];
const trials = { tried: 0, survived: 0 };
const slowest = new Map<string, number>(); // command and case → ms, for the report

function rawNode(name: string, type: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, type, mode: type === 'dir' ? 0o755 : 0o644, mtime: MTIME, ctime: MTIME, uid: 0, gid: 0, ...extra };
}

async function rawTree(repo: Repository, nodes: Record<string, unknown>[]): Promise<string> {
  return idToHex((await repo.saveBlob('tree', Buffer.from(JSON.stringify({ nodes })))).id);
}

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  ms: number;
}

/** Runs the CLI with a time limit; a run that hits it is killed and reported with code null. */
function cli(args: string[]): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, '-r', repoDir, ...args], {
      env: cliEnv(PASSWORD),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), LIMIT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      slowest.set(`${args[0]} ${args[1]}`, Date.now() - started);
      resolve({
        code,
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: Date.now() - started,
      });
    });
  });
}

/** Everything under the sandbox except the jails and targets, with file contents: must never change. */
function outsideState(): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(sandbox, rel), { withFileTypes: true })) {
      const p = path.join(rel, e.name);
      if (p === 'jail' || p === 'target') continue; // (deep trees inside them go beyond PATH_MAX)
      const abs = path.join(sandbox, p);
      out.push(
        e.isFile() ? `${p}=${fs.readFileSync(abs, 'utf8')}` : e.isSymbolicLink() ? `${p}->${fs.readlinkSync(abs)}` : p,
      );
      if (e.isDirectory()) walk(p);
    }
  };
  walk('');
  return out.sort();
}

let before: string[];

/** Counts one trial: it survived if `check` holds (nothing outside changed is checked by every caller too). */
function trial(ok: () => void): void {
  trials.tried++;
  ok();
  expect(outsideState()).toEqual(before);
  trials.survived++;
}

function expectLines(r: Run, c: Case, readsContent = true): void {
  const refuses = c.refuses && (readsContent || !c.contentOnly);
  expect(r.code, `${c.label}: exit ${r.code} after ${r.ms} ms\n${r.stderr}`).toBe(refuses ? 1 : 0);
  expect(r.stderr).not.toMatch(/^\s+at /m); // one line per fault, never a stack
  if (refuses) expect(r.stderr).toContain(c.snapshot!.slice(0, 8));
}

beforeAll(async () => {
  tmp = tempDir('hostile-repo-');
  repoDir = path.join(tmp, 'repo');
  sandbox = path.join(tmp, 'sandbox');
  outside = path.join(sandbox, 'outside');
  fs.mkdirSync(outside, { recursive: true });
  fs.writeFileSync(path.join(outside, 'secret'), 'original');
  before = outsideState();

  const repo = await localRepo(repoDir);
  const ok = idToHex((await repo.saveBlob('data', OK_BYTES)).id);
  const okFile = (name = 'ok') => rawNode(name, 'file', { content: [ok], size: OK_BYTES.length });
  const snap = async (
    label: string,
    refuses: boolean,
    root: Record<string, unknown>[],
    whole = false,
    contentOnly = false,
  ) => {
    cases.push({ label, refuses, whole, contentOnly, tree: await rawTree(repo, [okFile(), ...root]) });
  };

  // Names: each as a file, and as a directory holding a file, all in one tree.
  const inner = await rawTree(repo, [okFile('inside')]);
  const names = [
    '..',
    '.',
    '',
    'a/b',
    `${sandbox}/abs-escape`,
    '/abs',
    'x\u0000y',
    '../escape',
    'sub/../../escape',
    '../../../../../../../../tmp/escape',
  ];
  await snap(
    'unsafe names',
    true,
    names.flatMap((bad) => [rawNode(bad, 'file', { content: [ok] }), rawNode(`${bad}/`, 'dir', { subtree: inner })]),
  );
  await snap('raw name ..', true, [
    { ...rawNode('', 'file', { content: [ok] }), name: undefined, name_raw: Buffer.from('..').toString('base64') },
  ]);
  // Symlink then file: a link out of the jail and a directory of the same name holding a file.
  const through = await rawTree(repo, [rawNode('secret', 'file', { content: [ok] })]);
  await snap('symlink then file', true, [
    rawNode('d', 'symlink', { linktarget: outside }),
    rawNode('d', 'dir', { subtree: through }),
  ]);
  await snap('relative symlink then file', true, [
    rawNode('d', 'dir', { subtree: through }),
    rawNode('d', 'symlink', { linktarget: '../outside' }),
  ]);
  // A symlink pointing out is kept as a link (never followed); its target is data.
  await snap('symlink pointing outside', false, [
    rawNode('link', 'symlink', { linktarget: outside }),
    rawNode('up', 'symlink', { linktarget: '../../..' }),
  ]);
  // Hard links: the first node of an inode refused (unsafe name) must not become a link target.
  const hl = { links: 2, inode: '77', device_id: '5' };
  await snap('hard link to a refused outside name', true, [
    rawNode('../outside/secret', 'file', { content: [ok], ...hl }),
    rawNode('h', 'file', { content: [ok], ...hl }),
  ]);
  await snap('hard links inside', false, [
    rawNode('h1', 'file', { content: [ok], ...hl }),
    rawNode('h2', 'file', { content: [ok], ...hl }),
  ]);
  // Device nodes: a valid one (root recreates it inside the target) and ones without a valid number.
  await snap('device nodes', false, [rawNode('null', 'chardev', { rdev: '259' }), rawNode('fifo', 'fifo')]);
  await snap('bad device numbers', true, [rawNode('c', 'chardev', { rdev: 'garbage' }), rawNode('b', 'blockdev')]);
  // DAG explosion: 41 trees expanding to 2^40 paths.
  let t = await rawTree(repo, [okFile('leaf')]);
  for (let i = 0; i < 40; i++)
    t = await rawTree(repo, [rawNode('a', 'dir', { subtree: t }), rawNode('b', 'dir', { subtree: t })]);
  await snap('DAG of 2^40 paths', true, [rawNode('bomb', 'dir', { subtree: t })], true);
  // Deep nesting: 10,000 levels.
  let deep = await rawTree(repo, [okFile('bottom')]);
  for (let i = 0; i < 10_000; i++) deep = await rawTree(repo, [rawNode('d', 'dir', { subtree: deep })]);
  await snap('10,000 levels', true, [rawNode('deep', 'dir', { subtree: deep })]);
  // Bad timestamps: read with the epoch, reported.
  const timed = await rawTree(repo, [
    rawNode('f', 'file', { content: [ok], mtime: 'garbage', atime: '2021-13-45T99:99:99Z' }),
  ]);
  await snap('bad timestamps', true, [
    rawNode('t', 'dir', { subtree: timed, mtime: 'yesterday' }),
    rawNode('g', 'file', { content: [ok], ctime: '' }),
  ]);
  // Type confusion.
  await snap('file with a subtree', true, [rawNode('f', 'file', { content: [ok], subtree: inner })]);
  await snap('fifo with content', true, [rawNode('p', 'fifo', { content: [ok] })]);
  await snap('symlink without target', true, [rawNode('s', 'symlink')]);
  await snap('dir whose subtree is a data blob', true, [rawNode('x', 'dir', { subtree: ok })]);
  await snap('file whose content is a tree', true, [rawNode('x', 'file', { content: [inner] })], false, true);
  await snap('mode and owner out of range', true, [
    rawNode('m', 'file', { content: [ok], mode: 0o177777 }),
    rawNode('u', 'file', { content: [ok], uid: -1 }),
  ]);
  const unknownType = await rawTree(repo, [rawNode('w', 'weird')]);
  await snap('unknown node type', true, [rawNode('x', 'dir', { subtree: unknownType })]);
  // Missing objects.
  await snap('missing subtree', true, [rawNode('x', 'dir', { subtree: 'ee'.repeat(32) })]);
  await snap('missing data blob', true, [rawNode('x', 'file', { content: ['ef'.repeat(32)] })], false, true);

  await repo.flush();
  for (const c of cases) {
    c.snapshot = await saveSnapshot(repo, {
      time: MTIME,
      tree: c.tree!,
      paths: ['/src'],
      hostname: 'h',
      username: 'u',
      tags: [c.label.slice(0, 40).replace(/[^a-z0-9]/gi, '_')],
      program_version: 'test',
    });
  }
  await repo.close();
}, 120_000);

afterAll(() => {
  console.log(
    `hostile repository: ${trials.survived} of ${trials.tried} trials survived over ${cases.length} snapshots`,
  );
  const label = (k: string) => cases.find((c) => k.includes(c.snapshot!))?.label ?? k;
  console.log(
    [...slowest]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([k, ms]) => `${k.split(' ')[0]} ${label(k)}: ${ms} ms`)
      .join('\n'),
  );
  execFileSync('rm', ['-rf', tmp]);
  for (const p of ['/abs', '/tmp/escape']) expect(fs.existsSync(p)).toBe(false);
});

describe('hostile repository', () => {
  it('restore refuses each unsafe node with a line, restores the rest, never writes outside', async () => {
    for (const c of cases) {
      const target = path.join(sandbox, 'target', c.snapshot!.slice(0, 8));
      const r = await cli(['restore', c.snapshot!, '--target', target]);
      trial(() => {
        if (c.whole) {
          expect(r.code, r.stderr).toBe(1);
          expect(r.stderr).toContain(c.tree!);
          expect(fs.existsSync(target)).toBe(false);
          return;
        }
        expectLines(r, c);
        expect(fs.existsSync(path.join(target, 'ok')), `${c.label}: ${r.stderr}`).toBe(true);
        expect(fs.readFileSync(path.join(target, 'ok')).equals(OK_BYTES), c.label).toBe(true);
      });
    }
  }, 300_000);

  it('dump writes tars that Python tarfile.extractall and GNU tar extract without escaping the jail', async () => {
    for (const c of cases) {
      const r = await cli(['dump', c.snapshot!, '/']);
      trial(() => expectLines(r, c));
      if (c.whole) {
        expect(r.stdout.length).toBe(0);
        continue;
      }
      const tarFile = path.join(tmp, 'dump.tar');
      fs.writeFileSync(tarFile, r.stdout);
      const names = execFileSync('tar', ['-tf', tarFile], { maxBuffer: 1 << 30 })
        .toString('latin1')
        .split('\n')
        .filter(Boolean);
      for (const n of names) {
        expect(n.startsWith('/'), n).toBe(false);
        expect(n.split('/').includes('..'), n).toBe(false);
      }
      for (const tool of ['python', 'gnu'] as const) {
        const jail = path.join(sandbox, 'jail', `${tool}-${c.snapshot!.slice(0, 8)}`);
        fs.mkdirSync(jail, { recursive: true });
        try {
          if (tool === 'python')
            execFileSync(
              'python3',
              [
                '-c',
                'import sys, tarfile\nwith tarfile.open(sys.argv[1]) as t: t.extractall(sys.argv[2])',
                tarFile,
                jail,
              ],
              { stdio: 'pipe' },
            );
          else execFileSync('tar', ['-xf', tarFile, '-C', jail], { stdio: 'pipe' });
        } catch (err) {
          // Only the 10,000-level case may fail to extract (names beyond PATH_MAX); what it did extract stays inside.
          if (c.label !== '10,000 levels') throw err;
        }
        trial(() => expect(fs.readFileSync(path.join(jail, 'ok')).equals(OK_BYTES), `${tool} ${c.label}`).toBe(true));
      }
    }
  }, 300_000);

  it('ls lists what is safe, names what it refuses and stays bounded', async () => {
    for (const c of cases) {
      const ls = await cli(['ls', c.snapshot!]);
      trial(() => {
        expectLines(ls, c, false);
        if (!c.whole) expect(ls.stdout.toString()).toContain('/ok\n');
      });
    }
  }, 300_000);

  it('find over every snapshot lists what is safe, names each snapshot it refuses from and stays bounded', async () => {
    const find = await cli(['find', 'ok']);
    trial(() => {
      expect(find.code, find.stderr).toBe(1);
      expect(find.stderr).not.toMatch(/^\s+at /m);
      const out = find.stdout.toString();
      for (const c of cases) {
        const short = c.snapshot!.slice(0, 8);
        if (c.refuses && !c.contentOnly) expect(find.stderr, c.label).toContain(`snapshot ${short}`);
        else expect(find.stderr, c.label).not.toContain(`snapshot ${short}`);
        if (!c.whole) expect(out, c.label).toContain(`snapshot ${short}`);
      }
    });
  }, 120_000);

  it('diff names what it refuses on either side and refuses a 2^40 DAG whole', async () => {
    const by = (label: string) => cases.find((c) => c.label === label)!;
    const names = by('unsafe names');
    const dup = by('symlink then file');
    const r = await cli(['diff', names.snapshot!, dup.snapshot!]);
    trial(() => {
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(`snapshot ${names.snapshot!.slice(0, 8)}`);
      expect(r.stderr).toContain(`snapshot ${dup.snapshot!.slice(0, 8)}`);
      expect(r.stdout.toString()).not.toContain('escape');
    });
    const bomb = await cli(['diff', names.snapshot!, by('DAG of 2^40 paths').snapshot!]);
    trial(() => {
      expect(bomb.code, bomb.stderr).toBe(1);
      expect(bomb.stderr).toContain('beyond the bound');
    });
  }, 120_000);

  it('check reports every hostile snapshot, naming snapshot and tree, in bounded time', async () => {
    const r = await cli(['check', '--json']);
    trial(() => {
      expect(r.code, r.stderr).toBe(1);
      const report = JSON.parse(r.stdout.toString()) as {
        problems: { kind: string; message: string; snapshot?: string }[];
      };
      for (const c of cases) {
        const mine = report.problems.filter(
          (p) => p.snapshot === c.snapshot || p.message.includes(c.snapshot!.slice(0, 8)),
        );
        if (c.refuses)
          expect(mine.length, `${c.label}: ${JSON.stringify(report.problems.slice(0, 3))}`).toBeGreaterThan(0);
        else expect(mine, c.label).toEqual([]);
      }
      const kinds = new Set(report.problems.map((p) => p.kind));
      for (const k of ['node', 'bounds', 'tree', 'blob-missing']) expect(kinds.has(k), k).toBe(true);
    });
  }, 120_000);
});
