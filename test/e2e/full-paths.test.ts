// Snapshot trees keep full paths as restic stores them (spec §10). Differential against restic 0.14
// (/usr/bin/restic): the same sources, given the same way on the command line, list the same paths in
// `ls --json latest`, with the real directories' metadata on the intermediate ones. Then every command
// that takes a path inside a snapshot is given the path as it was backed up.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastJson, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/repo.js';

const RESTIC = '/usr/bin/restic';
const hasRestic = fs.existsSync(RESTIC);
const PASSWORD = 'e2e full paths';
let tmp: string;
let src: string;

async function repo(args: string[], cwd = tmp): Promise<string> {
  const r = await runCli(['-r', path.join(tmp, 'repo'), ...args], { cwd, password: PASSWORD });
  if (r.code !== 0) throw new Error(`repo ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r.out;
}

function restic(args: string[], cwd = tmp): string {
  const r = spawnSync(RESTIC, ['-q', ...args], {
    cwd,
    env: {
      PATH: process.env.PATH,
      HOME: tmp,
      RESTIC_REPOSITORY: path.join(tmp, 'restic'),
      RESTIC_PASSWORD: PASSWORD,
      RESTIC_CACHE_DIR: path.join(tmp, 'restic-cache'),
    },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`restic ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

const firstComponent = () => tmp.split('/')[1];

interface Listed {
  path: string;
  type: string;
  mtime: number;
}

/** The nodes of `ls --json latest` (restic's or ours), by path. */
function nodes(out: string): Listed[] {
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l))
    .filter((o) => o.struct_type === 'node')
    .map((o) => ({ path: o.path, type: o.type, mtime: Date.parse(o.mtime) }));
}

beforeAll(async () => {
  tmp = tempDir('repo-e2e-paths-');
  src = path.join(tmp, 'src');
  const w = (rel: string, data: string) => {
    fs.mkdirSync(path.dirname(path.join(src, rel)), { recursive: true });
    fs.writeFileSync(path.join(src, rel), data);
  };
  w('me/docs/a.txt', 'a\n');
  w('me/docs/deep/b.txt', 'b\n');
  w('me/notes.txt', 'notes\n');
  w('other/data/c.txt', 'c\n');
  w('data/d.txt', 'd\n');
  fs.utimesSync(path.join(src, 'me'), 1_700_000_000, 1_700_000_000);
  // A folder named like the first component of our absolute paths ("tmp"), for a relative argument to clash with.
  fs.mkdirSync(path.join(tmp, firstComponent()));
  fs.writeFileSync(path.join(tmp, firstComponent(), 'e.txt'), 'e\n');
  fs.mkdirSync(path.join(tmp, 'restic-cache')); // made now, not while restic reads the temp folder's times
  await repo(['init']);
  if (hasRestic) restic(['init']);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe.runIf(hasRestic)('snapshot paths, differential against restic', () => {
  // [what, arguments, working directory relative to the temp folder]
  const cases: [string, (s: string) => string[], string][] = [
    ['a deep absolute path', (s) => [`${s}/me/docs`], '.'],
    ['two sources sharing a prefix', (s) => [`${s}/me/docs/deep`, `${s}/me/notes.txt`], '.'],
    ['two sources with the same last component', (s) => [`${s}/other/data`, `${s}/data`], '.'],
    ['a target inside another target', (s) => [`${s}/me`, `${s}/me/docs`], '.'],
    ['relative paths', () => ['me/docs', 'data'], 'src'],
    ['a relative path climbing out', () => ['../me/docs'], 'src/other'],
    ['"." (its entries at the root)', () => ['.'], 'src/me'],
    [
      'a relative and an absolute path with the same first component (restic\'s "-1" suffix)',
      (s) => [firstComponent(), `${s}/data`],
      '.',
    ],
  ];
  for (const [what, args, cwd] of cases) {
    it(`${what}: the same paths and intermediate directory times as restic`, async () => {
      const dir = path.join(tmp, cwd);
      restic(['backup', ...args(src)], dir);
      await repo(['backup', ...args(src)], dir);
      const theirs = nodes(restic(['ls', '--json', 'latest']));
      const listed = await repo(['--json', 'ls', 'latest']);
      const ours = nodes(listed);
      expect(ours.map((n) => `${n.type} ${n.path}`)).toEqual(theirs.map((n) => `${n.type} ${n.path}`));
      // Not the system's temp folder above ours: other tests change it between the two backups.
      const above = (p: string) => tmp.startsWith(p.replace(/^(\/[^/]+)-\d+/, '$1') + '/'); // "/tmp-1" is /tmp too
      const dirTimes = (l: Listed[]) =>
        l.filter((n) => n.type === 'dir' && !above(n.path)).map((n) => `${n.path} ${n.mtime}`);
      expect(dirTimes(ours)).toEqual(dirTimes(theirs));
      const paths = JSON.parse(listed.split('\n')[0]).paths; // the snapshot line comes first
      expect([...paths].sort()).toEqual(
        args(src)
          .map((a) => path.resolve(dir, a))
          .sort(),
      );
    });
  }
});

describe('commands given the path as backed up', () => {
  let first: string;
  let second: string;
  beforeAll(async () => {
    first = lastJson(await repo(['--json', 'backup', `${src}/me`, '--time', '2026-01-01 10:00:00'])).snapshot_id;
    fs.writeFileSync(path.join(src, 'me/docs/a.txt'), 'changed\n');
    second = lastJson(await repo(['--json', 'backup', `${src}/me`, '--time', '2026-01-02 10:00:00'])).snapshot_id;
  });

  it('restore SNAPSHOT:/abs/path, restore --include /abs/path, ls, dump, find and diff', async () => {
    const t1 = path.join(tmp, 'r1');
    await repo(['restore', `${second}:${src}/me/docs`, '--target', t1]);
    expect(fs.readdirSync(t1).sort()).toEqual(['a.txt', 'deep']);
    expect(fs.readFileSync(path.join(t1, 'a.txt'), 'utf8')).toBe('changed\n');

    const t2 = path.join(tmp, 'r2');
    await repo(['restore', second, '--target', t2, '--include', `${src}/me/notes.txt`]);
    expect(fs.readFileSync(path.join(t2, src, 'me/notes.txt'), 'utf8')).toBe('notes\n');
    expect(fs.existsSync(path.join(t2, src, 'me/docs'))).toBe(false);

    expect((await repo(['ls', second, `${src}/me/docs`])).split('\n').filter(Boolean)).toEqual([
      `${src}/me/docs`,
      `${src}/me/docs/a.txt`,
      `${src}/me/docs/deep`,
      `${src}/me/docs/deep/b.txt`,
    ]);
    expect(await repo(['dump', first, `${src}/me/docs/a.txt`])).toBe('a\n');

    const found = JSON.parse(await repo(['--json', 'find', 'b.txt', '--snapshot', second]));
    expect(found[0].matches.map((m: { path: string }) => m.path)).toEqual([`${src}/me/docs/deep/b.txt`]);

    const diff = await repo(['diff', first, second]);
    expect(diff).toContain(`M    ${src}/me/docs/a.txt`);
    const sub = (await repo(['--json', 'diff', `${first}:${src}/me/docs`, `${second}:${src}/me/docs`]))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(sub.filter((l) => l.message_type === 'change').map((l) => l.path)).toEqual(['/a.txt']);
  });
});
