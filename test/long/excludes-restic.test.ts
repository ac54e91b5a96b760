// Differential test: restic 0.14 (Debian's /usr/bin/restic) and `repo` back up the same tree with the same
// exclude and --files-from options; the sets of backed-up paths, relative to the source root, must be equal.
// Paths are compared relative to the source root so the snapshot path layout does not matter.
// In test/long: 26 cases of two backups each take about 35 s of CPU (restic and repo run side by side).

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/backend/local.js';
import { Repository } from '../../src/repository/repository.js';
import { loadSnapshot } from '../../src/snapshot/snapshot.js';
import { loadTree } from '../../src/tree/tree-store.js';
import { runCli } from '../helpers/cli.js';

const RESTIC = '/usr/bin/restic';
const haveRestic = fs.existsSync(RESTIC);
const PASSWORD = 'differential excludes';
const SIGNATURE = 'Signature: 8a477f597d28d172789f06886806bc55';

let work: string;
let src: string; // the source root; its name is unique so the old layout (root = basename) maps back
let resticRepo: string;
let repoRepo: string;
let env: Record<string, string>;

function write(rel: string, data: string | Buffer = rel): void {
  const p = path.join(src, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, data);
}

function buildTree(): void {
  for (const f of [
    'a.tmp',
    'c.TMP',
    'b.txt',
    'Doc.PDF',
    'doc.pdf',
    'keep.pdf',
    'notes.md',
    'x*y',
    'x-y',
    '!bang',
    'a]b',
    'cost$5.txt',
    'dir with space/f.txt',
  ])
    write(f);
  write('.hidden/x.txt');
  write('.profile');
  write('foo/bar/baz.txt');
  write('foo/x/y/bar/q.txt');
  write('foo/bar.txt');
  write('foo/keep.txt');
  write('node_modules/m/index.js');
  write('sub/node_modules/n.js');
  write('sub/deep/er/file.go');
  write('sub/deep/er/file.txt');
  write('cache/CACHEDIR.TAG', `${SIGNATURE}\n# a cache\n`);
  write('cache/data.bin');
  write('fakecache/CACHEDIR.TAG', 'Signature: wrong\n');
  write('fakecache/d.bin');
  write('tagged/.nobackup');
  write('tagged/file');
  write('tagged/sub/f');
  write('skip-header/.nobackup', 'SKIPME please');
  write('skip-header/f');
  write('other-header/.nobackup', 'nope');
  write('other-header/f');
  write('big.bin', Buffer.alloc(80 * 1024, 1));
  write('exact.bin', Buffer.alloc(50 * 1024, 2));
  write('small.bin', Buffer.alloc(1024, 3));
  write('~/t.txt');
  write('UPPER/Inner.TXT');
  fs.symlinkSync('b.txt', path.join(src, 'link-to-b'));
}

/** Writes a helper file (exclude file or list) outside the source tree. */
function helper(name: string, data: string | Buffer): string {
  const p = path.join(work, name);
  fs.writeFileSync(p, data);
  return p;
}

/** Maps a snapshot path back to the source tree: full-path layout, or the old one rooted at each target's basename. */
function relative(snapPath: string, targets: string[]): string | undefined {
  if (snapPath === src || snapPath.startsWith(src + '/')) return path.relative(src, snapPath);
  for (const t of targets) {
    const base = '/' + path.basename(t);
    if (snapPath === base || snapPath.startsWith(base + '/'))
      return path.relative(src, t + snapPath.slice(base.length));
  }
  return undefined;
}

/** Entries inside the source root as "d path" / "f path" / "l path", sorted. Directories only when `dirs`. */
function normalize(entries: { path: string; type: string }[], targets: string[], dirs: boolean): string[] {
  const out: string[] = [];
  for (const e of entries) {
    const rel = relative(e.path, targets);
    if (rel === undefined || rel === '' || rel.startsWith('..')) continue;
    if (e.type === 'dir' && !dirs) continue;
    out.push(`${e.type[0]} ${rel}`);
  }
  return out.sort();
}

/** Runs restic; resolves with its output and exit status (3 is restic's "some files could not be read"). */
function restic(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    execFile(
      RESTIC,
      ['-r', resticRepo, '--no-cache', ...args],
      { env: { ...process.env, ...env, RESTIC_PASSWORD: PASSWORD }, cwd: work, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        if (code !== 0 && code !== 3) reject(new Error(`restic ${args[0]} failed (${code}): ${stderr}`));
        else resolve({ stdout, stderr, code });
      },
    );
  });
}

async function resticPaths(args: string[], dirs: boolean): Promise<{ entries: string[]; stderr: string }> {
  const r = await restic(['backup', '--json', ...args]);
  const summary = r.stdout
    .split('\n')
    .filter((l) => l.includes('"message_type":"summary"'))
    .map((l) => JSON.parse(l) as { snapshot_id: string })[0];
  const lines = (await restic(['ls', '--json', summary.snapshot_id])).stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { struct_type: string; path: string; type: string; paths?: string[] });
  const targets = lines[0].paths ?? [];
  return {
    entries: normalize(
      lines.filter((l) => l.struct_type === 'node'),
      targets,
      dirs,
    ),
    stderr: r.stderr,
  };
}

async function walk(
  repo: Repository,
  tree: string,
  prefix: string,
  out: { path: string; type: string }[],
): Promise<void> {
  for (const n of (await loadTree(repo, tree)).nodes) {
    const p = `${prefix}/${n.name.toString('utf8')}`;
    out.push({ path: p, type: n.type });
    if (n.type === 'dir' && n.subtree !== undefined) await walk(repo, n.subtree, p, out);
  }
}

async function repoPaths(
  args: string[],
  dirs: boolean,
): Promise<{ entries: string[]; code: number | null; stderr: string }> {
  const r = await runCli(['-r', repoRepo, 'backup', '--json', ...args], { password: PASSWORD, env, cwd: work });
  if (r.code !== 0 && r.code !== 3) throw new Error(`repo backup failed (${r.code}): ${r.stderr}`);
  const summary = r.out
    .split('\n')
    .filter((l) => l.includes('"message_type":"summary"'))
    .map((l) => JSON.parse(l) as { snapshot_id: string })[0];
  const repo = await Repository.open(await LocalBackend.open(repoRepo), PASSWORD);
  try {
    const sn = await loadSnapshot(repo, summary.snapshot_id);
    const entries: { path: string; type: string }[] = [];
    await walk(repo, sn.tree, '', entries);
    return { entries: normalize(entries, sn.paths, dirs), code: r.code, stderr: r.stderr };
  } finally {
    await repo.close();
  }
}

interface Case {
  name: string;
  /** Backup arguments for both programs; SRC stands for the source root, a function builds helper files first. */
  args: () => string[];
  /** Lists targets instead of the source root. */
  listed?: boolean;
  /** Expected to be missing from both snapshots (a sanity check that the case excludes something). */
  gone?: string[];
  kept?: string[];
}

const file = (name: string, text: string) => () => ['--exclude-file', helper(name, text), '__SRC__'];

const CASES: Case[] = [
  { name: '--exclude *.tmp', args: () => ['--exclude', '*.tmp', '__SRC__'], gone: ['f a.tmp'], kept: ['f c.TMP'] },
  { name: '--iexclude *.tmp', args: () => ['--iexclude', '*.tmp', '__SRC__'], gone: ['f a.tmp', 'f c.TMP'] },
  {
    name: 'negation re-includes',
    args: file('neg', '*.pdf\n!keep.pdf\n'),
    gone: ['f doc.pdf'],
    kept: ['f keep.pdf', 'f Doc.PDF'],
  },
  {
    name: '** between components',
    args: file('dstar', 'foo/**/bar\n'),
    gone: ['f foo/bar/baz.txt', 'f foo/x/y/bar/q.txt'],
    kept: ['f foo/bar.txt'],
  },
  {
    name: 'trailing ** and leading **',
    args: file('dstar2', '**/deep/**\nsub/**/n.js\n'),
    gone: ['f sub/deep/er/file.go', 'd sub/deep'],
  },
  {
    name: 'two ** limit each other as in restic',
    args: file('dstar3', '$SRC/**/bar/**\n'),
    kept: ['d foo/bar'],
    gone: ['f foo/bar/baz.txt', 'f foo/x/y/bar/q.txt'],
  },
  {
    name: 'unanchored directory name',
    args: file('unanch', 'node_modules\nbar\n'),
    gone: ['d node_modules', 'd sub/node_modules', 'd foo/bar'],
  },
  {
    name: 'anchored via environment',
    args: file('anch', '$SRC/foo\n${SRC}/sub/deep/\n/foo\n'),
    gone: ['d foo', 'd sub/deep'],
    kept: ['d sub'],
  },
  {
    name: 'anchored * with negated dirs',
    args: file('home', '$SRC/*\n!$SRC/foo\n!$SRC/.hidden\n'),
    kept: ['f foo/bar/baz.txt', 'f .hidden/x.txt'],
    gone: ['f b.txt'],
  },
  {
    name: 'dot files and classes',
    args: file('cls', '.*\n[ab].t?t\n[^d]oc.pdf\n'),
    gone: ['d .hidden', 'f .profile', 'f b.txt'],
    kept: ['f doc.pdf'],
  },
  {
    name: '[!...] is a class of "!" in Go',
    args: file('bang', '[!x]bang\n[!c]ost*\n'),
    gone: ['f !bang', 'f cost$5.txt'],
    kept: ['f b.txt'],
  },
  {
    name: 'escapes and literal specials',
    args: file('esc', 'x\\*y\na]b\n'),
    gone: ['f x*y', 'f a]b'],
    kept: ['f x-y'],
  },
  { name: 'cleaned patterns', args: file('clean', './foo/../sub/deep//er/\nfoo/\n'), gone: ['d sub/deep/er', 'd foo'] },
  {
    name: 'flags and file form one list',
    args: () => ['--exclude', '*.txt', '--exclude-file', helper('one', '!b.txt\n'), '__SRC__'],
    kept: ['f b.txt'],
    gone: ['f foo/keep.txt'],
  },
  {
    name: 'case lists are separate',
    args: () => ['--iexclude', '*.TXT', '--exclude-file', helper('sep', '!b.txt\n'), '__SRC__'],
    gone: ['f b.txt', 'f UPPER/Inner.TXT'],
  },
  {
    name: '--iexclude-file with negation',
    args: () => ['--iexclude-file', helper('ineg', 'DOC.pdf\nupper\n!upper/inner.txt\n'), '__SRC__'],
    gone: ['f doc.pdf', 'f Doc.PDF'],
  },
  {
    name: '$$ and unset variables; ~ stays literal',
    args: file('env', 'cost$$5.txt\n$UNSET_VAR_XYZ/never\n~/t.txt\n'),
    gone: ['f cost$5.txt', 'f ~/t.txt'],
    kept: ['d ~'],
  },
  {
    name: 'comments, blanks and spaces',
    args: file('ws', '# *.md\n\n   notes.md   \n\t#b.txt\ndir with space\n'),
    gone: ['f notes.md', 'd dir with space'],
    kept: ['f b.txt'],
  },
  {
    name: '--exclude-if-present',
    args: () => ['--exclude-if-present', '.nobackup', '__SRC__'],
    gone: ['f tagged/file', 'd tagged/sub'],
    kept: ['d tagged', 'f tagged/.nobackup'],
  },
  {
    name: '--exclude-if-present with header',
    args: () => ['--exclude-if-present', '.nobackup:SKIPME', '__SRC__'],
    gone: ['f skip-header/f'],
    kept: ['f other-header/f', 'f tagged/file'],
  },
  {
    name: '--exclude-caches',
    args: () => ['--exclude-caches', '__SRC__'],
    gone: ['f cache/data.bin'],
    kept: ['f cache/CACHEDIR.TAG', 'f fakecache/d.bin'],
  },
  {
    name: '--exclude-larger-than',
    args: () => ['--exclude-larger-than', '50K', '__SRC__'],
    gone: ['f big.bin'],
    kept: ['f exact.bin', 'f small.bin'],
  },
  {
    name: 'exclude applies to a target itself',
    args: () => ['--exclude', 'b.txt', '__SRC__/b.txt', '__SRC__/foo'],
    listed: true,
    kept: ['f foo/keep.txt'],
    gone: ['f b.txt'],
  },
  {
    name: '--files-from globs, comments, a missing path',
    args: () => [
      '--files-from',
      helper('list', `# targets\n${src}/foo/*.txt\n  ${src}/b.txt  \n${src}/no-such-file\n${src}/s[u]b\n`),
    ],
    listed: true,
    kept: ['f foo/bar.txt', 'f foo/keep.txt', 'f b.txt', 'f sub/deep/er/file.go'],
  },
  {
    name: '--files-from-verbatim',
    args: () => ['--files-from-verbatim', helper('verb', `${src}/x*y\n${src}/dir with space\n\n`)],
    listed: true,
    kept: ['f x*y', 'f dir with space/f.txt'],
    gone: ['f x-y'],
  },
  {
    name: '--files-from-raw with excludes',
    args: () => [
      '--files-from-raw',
      helper('raw', Buffer.from(`${src}/foo\0${src}/tagged\0`)),
      '--exclude',
      'bar',
      '--exclude-if-present',
      '.nobackup',
    ],
    listed: true,
    kept: ['f foo/keep.txt', 'f tagged/.nobackup'],
    gone: ['f foo/bar/baz.txt', 'f tagged/file'],
  },
];

describe.skipIf(!haveRestic)('excludes and --files-from match restic 0.14', () => {
  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'excl-diff-'));
    src = path.join(work, 'srcroot-excl');
    fs.mkdirSync(src);
    buildTree();
    resticRepo = path.join(work, 'restic-repo');
    repoRepo = path.join(work, 'repo-repo');
    env = { SRC: src, HOME: work };
    await restic(['init', '-q']);
    const r = await runCli(['-r', repoRepo, 'init'], { password: PASSWORD, env });
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  for (const c of CASES) {
    it(c.name, async () => {
      const args = c.args().map((a) => a.replace('__SRC__', src));
      const dirs = c.listed !== true; // restic adds the targets' parent directories; the old layout does not
      const [expected, actual] = await Promise.all([resticPaths(args, dirs), repoPaths(args, dirs)]);
      expect(actual.entries).toEqual(expected.entries);
      const all = new Set(expected.entries);
      for (const g of c.gone ?? []) expect(all.has(g), `${g} should be excluded`).toBe(false);
      for (const k of c.kept ?? []) expect(all.has(k), `${k} should be kept`).toBe(true);
      if (c.name.includes('missing path')) {
        expect(actual.code).toBe(3);
        expect(actual.stderr).toContain('no-such-file');
      }
    });
  }
});
