// Differential test of the JSON shapes: restic 0.14 (Debian's /usr/bin/restic) and `repo` back up the same
// tree with --json (and -vv / -v); the keys of restic's status, verbose_status and summary lines must all
// be in repo's lines (repo writes every key, restic leaves zero values out), except the verbose_status
// keys README lists as not written. Skipped where restic is not installed.

import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const RESTIC = '/usr/bin/restic';
const haveRestic = fs.existsSync(RESTIC);
const PASSWORD = 'differential json';
/** restic's per-item sizes in the repository and tree sizes, which repo does not measure per item (README). */
const NOT_WRITTEN = ['data_size_in_repo', 'metadata_size', 'metadata_size_in_repo', 'total_files'];

let work: string;
type Line = Record<string, unknown>;

function restic(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      RESTIC,
      ['-r', path.join(work, 'restic'), '--no-cache', ...args],
      { env: { ...process.env, RESTIC_PASSWORD: PASSWORD, RESTIC_PROGRESS_FPS: '30' }, cwd: work, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => (err ? reject(new Error(`restic ${args.join(' ')}: ${stderr}`)) : resolve(stdout)),
    );
  });
}

async function repo(args: string[]): Promise<string> {
  const r = await runCli(['-r', path.join(work, 'repo'), ...args], {
    password: PASSWORD,
    cwd: work,
    env: { REPO_CACHE_DIR: path.join(work, 'cache'), REPO_PROGRESS_FPS: '30' },
  });
  if (r.code !== 0) throw new Error(`repo ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.out;
}

const parse = (out: string): Line[] =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
const keysOf = (lines: Line[], type: string) =>
  [...new Set(lines.filter((l) => l.message_type === type).flatMap((l) => Object.keys(l)))].sort();
const actions = (lines: Line[]) =>
  [...new Set(lines.filter((l) => l.message_type === 'verbose_status').map((l) => l.action as string))].sort();

const runs: Record<'restic' | 'repo', { first: Line[]; second: Line[] }> = {
  restic: { first: [], second: [] },
  repo: { first: [], second: [] },
};

beforeAll(async () => {
  if (!haveRestic) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-json-restic-'));
  const src = path.join(work, 'src');
  fs.mkdirSync(path.join(src, 'docs'), { recursive: true });
  // Large enough that both print status lines while reading.
  fs.writeFileSync(path.join(src, 'big.bin'), crypto.randomBytes(24 << 20));
  fs.writeFileSync(path.join(src, 'docs', 'a.txt'), 'one\n');
  fs.writeFileSync(path.join(src, 'docs', 'b.txt'), 'two\n');
  await restic(['init']);
  await repo(['init']);
  runs.restic.first = parse(await restic(['backup', '--json', '-vv', 'src']));
  runs.repo.first = parse(await repo(['--json', '-v', 'backup', 'src']));
  fs.writeFileSync(path.join(src, 'docs', 'a.txt'), 'one, changed\n');
  fs.writeFileSync(path.join(src, 'docs', 'c.txt'), 'new\n');
  runs.restic.second = parse(await restic(['backup', '--json', '-vv', 'src']));
  runs.repo.second = parse(await repo(['--json', '-v', 'backup', 'src']));
}, 180_000);

afterAll(() => {
  if (work !== undefined) fs.rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!haveRestic)('backup --json against restic 0.14', () => {
  it('status lines carry every key restic writes', () => {
    // restic 0.14 prints its -vv "scan_finished" item as a status line (later versions: verbose_status); not a status.
    const resticKeys = keysOf(
      [...runs.restic.first, ...runs.restic.second].filter((l) => l.action === undefined),
      'status',
    );
    expect(resticKeys).toContain('percent_done');
    const ours = keysOf([...runs.repo.first, ...runs.repo.second], 'status');
    expect(resticKeys.filter((k) => !ours.includes(k))).toEqual([]);
    // And nothing restic's status lines never have.
    const restics = [
      'message_type',
      'seconds_elapsed',
      'seconds_remaining',
      'percent_done',
      'total_files',
      'files_done',
      'total_bytes',
      'bytes_done',
      'error_count',
      'current_files',
    ];
    expect(ours.filter((k) => !restics.includes(k))).toEqual([]);
  });

  it('the summary carries every key restic writes, with the same types and counts', () => {
    for (const run of ['first', 'second'] as const) {
      const r = runs.restic[run].find((l) => l.message_type === 'summary')!;
      const o = runs.repo[run].find((l) => l.message_type === 'summary')!;
      expect(Object.keys(r).filter((k) => !(k in o))).toEqual([]);
      for (const k of Object.keys(r)) expect(typeof o[k], k).toBe(typeof r[k]);
      for (const k of [
        'files_new',
        'files_changed',
        'files_unmodified',
        'dirs_new',
        'dirs_changed',
        'dirs_unmodified',
        'total_files_processed',
        'total_bytes_processed',
      ]) {
        expect(o[k], `${run} ${k}`).toBe(r[k]);
      }
    }
  });

  it('verbose_status lines have restic keys (less the per-item repository sizes) and its actions', () => {
    const all = (who: 'restic' | 'repo') => [...runs[who].first, ...runs[who].second];
    const resticKeys = keysOf(all('restic'), 'verbose_status').filter((k) => !NOT_WRITTEN.includes(k));
    expect(keysOf(all('repo'), 'verbose_status')).toEqual(resticKeys);
    // restic -vv also lists unchanged entries; repo -v lists what changed (and, beyond restic, what was removed).
    expect(actions(all('restic')).filter((a) => a !== 'unchanged')).toEqual(
      actions(all('repo')).filter((a) => a !== 'removed'),
    );
    const items = (who: 'restic' | 'repo', run: 'first' | 'second') =>
      runs[who][run]
        .filter((l) => l.message_type === 'verbose_status' && l.action !== 'unchanged')
        .map((l) => `${l.action as string} ${(l.item as string).replace(/^.*\/src\//, '/src/')}`)
        .sort();
    expect(items('repo', 'second')).toEqual(items('restic', 'second'));
  });
});
