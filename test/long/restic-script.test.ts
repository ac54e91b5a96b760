// A restic user's backup script, run twice with nothing changed but the program: once with restic 0.14 (Debian's
// /usr/bin/restic) and once with `repo` in its place. Same argv, same environment variables (RESTIC_REPOSITORY,
// RESTIC_PASSWORD), same source tree. Both runs must back up the same paths (exclude file with a negation,
// --exclude-caches), restore the same files from `latest:/abs/path`, keep the same snapshots after
// `forget --keep-daily 7 --keep-within 30d --prune`, and print JSON of the same shape (`snapshots --json`,
// `backup --json` read line by line as a progress reader would). Skipped where restic is not installed.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli.js';

const RESTIC = '/usr/bin/restic';
const haveRestic = fs.existsSync(RESTIC);
type Tool = 'restic' | 'repo';
const TOOLS: Tool[] = ['restic', 'repo'];

let tmp: string;
let src: string;

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** One line of the script: the same argv for both tools, the tool's own repository in RESTIC_REPOSITORY. */
function run(tool: Tool, args: string[]): Promise<Run> {
  const [cmd, pre] = tool === 'restic' ? [RESTIC, []] : [process.execPath, [CLI]];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: path.join(tmp, `home-${tool}`),
    TZ: 'UTC',
    RESTIC_REPOSITORY: path.join(tmp, `repo-${tool}`),
    RESTIC_PASSWORD: 'the same script',
    REPO_TEST_KDF: 'cheap', // only repo reads it; restic's own KDF is calibrated and fast enough
  };
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...pre, ...args], { env, cwd: tmp });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

async function ok(tool: Tool, args: string[]): Promise<string> {
  const r = await run(tool, args);
  if (r.code !== 0) throw new Error(`${tool} ${args.join(' ')} exited ${r.code}: ${r.err}`);
  return r.out;
}

function write(rel: string, data = rel): void {
  const p = path.join(src, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, data);
}

/** Every path below `dir`, relative, '/'-joined, sorted (directories too). */
function listTree(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }) as string[])
    .map((p) => p.split(path.sep).join('/'))
    .sort();
}

const jsonLines = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{') || l.startsWith('['))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** Snapshot times of the first script's backups: 40 days back to today, denser near the end. */
const DAYS_BACK = [40, 33, 29, 20, 12, 9, 6, 5, 3, 2, 1, 1, 0];

const results: Record<
  Tool,
  {
    restored: string[];
    kept: string[];
    snapshots: Record<string, unknown>[];
    stream: Record<string, unknown>[];
    listed: string[];
  }
> = {
  restic: { restored: [], kept: [], snapshots: [], stream: [], listed: [] },
  repo: { restored: [], kept: [], snapshots: [], stream: [], listed: [] },
};

beforeAll(async () => {
  if (!haveRestic) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-restic-script-'));
  src = path.join(tmp, 'data', 'me');
  write('notes.txt');
  write('docs/report.pdf');
  write('docs/keep.pdf');
  write('docs/readme.md');
  write('build/out.log');
  write('node_modules/lib/index.js');
  write('cache/CACHEDIR.TAG', 'Signature: 8a477f597d28d172789f06886806bc55\n# a cache\n');
  write('cache/blob.bin');
  fs.writeFileSync(path.join(tmp, 'excludes.txt'), '# restic exclude file\n*.log\nnode_modules\n*.pdf\n!keep.pdf\n');
  const base = Date.UTC(2026, 10, 30, 12, 0, 0);
  for (const tool of TOOLS) {
    await ok(tool, ['init']);
    for (const [i, back] of DAYS_BACK.entries()) {
      const t = new Date(base - back * 86_400_000 + i * 60_000).toISOString().slice(0, 19).replace('T', ' ');
      await ok(tool, ['backup', '-q', '--exclude-file', 'excludes.txt', '--exclude-caches', '--time', t, src]);
    }
    // restic 0.14 has no `latest:/path` (0.16 added it): the same script line is `--include`, which both run;
    // repo's `latest:/abs/path` must then give what restic's include restored below that path.
    const target = path.join(tmp, `restore-${tool}`);
    await ok(tool, ['restore', 'latest', '--include', `${src}/docs`, '--target', target]);
    results[tool].restored = listTree(path.join(target, src, 'docs'));
    if (tool === 'repo') {
      const sub = path.join(tmp, 'restore-repo-subpath');
      await ok(tool, ['restore', `latest:${src}/docs`, '--target', sub]);
      results.repo.subPath = listTree(sub);
    }
    results[tool].listed = jsonLines(await ok(tool, ['ls', '--json', 'latest']))
      .filter((l) => typeof l.path === 'string')
      .map((l) => l.path as string)
      .sort();
    await ok(tool, ['forget', '--keep-daily', '7', '--keep-within', '30d', '--prune']);
    results[tool].snapshots = JSON.parse(await ok(tool, ['snapshots', '--json'])) as Record<string, unknown>[];
    results[tool].kept = results[tool].snapshots.map((s) => String(s.time).slice(0, 19)).sort();
    results[tool].stream = jsonLines(
      await ok(tool, ['backup', '--json', '--exclude-file', 'excludes.txt', '--exclude-caches', src]),
    );
  }
}, 600_000);

afterAll(() => {
  if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(!haveRestic)('a restic script run by restic and by repo', () => {
  it('backs up the same paths (exclude file with a negation, --exclude-caches)', () => {
    expect(results.repo.listed).toEqual(results.restic.listed);
    expect(results.repo.listed).toContain(`${src}/docs/keep.pdf`);
    expect(results.repo.listed).not.toContain(`${src}/docs/report.pdf`);
    expect(results.repo.listed.some((p) => p.includes('node_modules') || p.endsWith('.log'))).toBe(false);
  });

  it('restores the same files with --include /abs/path, and the same from latest:/abs/path', () => {
    expect(results.repo.restored).toEqual(results.restic.restored);
    expect(results.repo.restored).toContain('keep.pdf');
    expect(results.repo.subPath).toEqual(results.restic.restored);
  });

  it('keeps the same snapshots after forget --keep-daily 7 --keep-within 30d --prune', () => {
    expect(results.repo.kept.length).toBeGreaterThan(0);
    expect(results.repo.kept.length).toBeLessThan(DAYS_BACK.length);
    expect(results.repo.kept).toEqual(results.restic.kept);
  });

  it('prints snapshots --json with every key restic prints', () => {
    const keys = (t: Tool) => [...new Set(results[t].snapshots.flatMap((s) => Object.keys(s)))];
    for (const k of keys('restic')) expect(keys('repo')).toContain(k);
  });

  it('streams backup --json as restic does: status lines, then one summary', () => {
    for (const tool of TOOLS) {
      const stream = results[tool].stream;
      expect(stream.at(-1)?.message_type).toBe('summary');
      for (const l of stream.slice(0, -1)) expect(l.message_type).toBe('status');
    }
    const keys = (t: Tool, type: string) => [
      ...new Set(results[t].stream.filter((l) => l.message_type === type).flatMap((l) => Object.keys(l))),
    ];
    for (const k of keys('restic', 'summary')) expect(keys('repo', 'summary')).toContain(k);
    for (const l of results.repo.stream.filter((x) => x.message_type === 'status')) {
      expect(l.percent_done as number).toBeGreaterThanOrEqual(0);
      expect(l.percent_done as number).toBeLessThanOrEqual(1);
    }
  });
});
