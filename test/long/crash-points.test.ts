// Deterministic crash points (issue 14 item 8), in addition to the random kill loop (crash-loop.test.ts): backup and
// prune are killed with SIGKILL at each named step (src/core/crash-point.ts, test-only variables), and after each
// kill `check --read-data` passes, every snapshot restores exactly as backed up, and the same command run again
// completes (and check passes again).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { CliRepo, diffManifests, manifest, PASSWORD, type Manifest } from './helpers.js';

let tmp: string;
let src: string;
let backupBase: string; // three snapshots
let pruneBase: string; // the same after `forget` of the oldest: a prune has packs to delete and to repack
const expected = new Map<string, Manifest>(); // snapshot id → what it restores to
const rand = prng(14);
const FILES = 12;
const results: string[] = [];

/** Replaces `n` of the source files with new random content (0.5 MiB each: the first backup spans two 4 MiB data packs). */
function change(first: number, n: number): void {
  for (let i = first; i < first + n; i++)
    fs.writeFileSync(path.join(src, `f${String(i % FILES).padStart(2, '0')}.bin`), randomBuffer(rand, 500_000));
}

function killedRun(repoDir: string, args: string[], at: string): Promise<CliResult> {
  return runCli(['-r', repoDir, ...args], {
    cwd: tmp,
    password: PASSWORD,
    env: { REPO_TEST_ENABLE_CRASH_POINTS: '1', REPO_TEST_CRASH_AT: at },
  });
}

async function backup(repo: CliRepo): Promise<string> {
  const id = (await repo.json(['backup', src])).snapshot_id as string;
  expected.set(id, manifest(src));
  return id;
}

/**
 * check --read-data, then a restore of every snapshot compared with what it held when backed up. After the
 * command has been run again (`light`): check of the structure and a restore of the newest snapshot only.
 */
async function verify(repo: CliRepo, label: string, light = false): Promise<number> {
  const c = await repo.run(light ? ['check'] : ['check', '--read-data']);
  expect(c.code, `${label}: check\n${c.stderr}${c.out}`).toBe(0);
  const all = (await repo.json<{ id: string }[]>(['snapshots'])).map((s) => s.id);
  const ids = light ? all.slice(-1) : all;
  for (const id of ids) {
    const target = path.join(tmp, `restore-${label}-${id.slice(0, 8)}`);
    const out = await repo.restore(id, target, src);
    expect(expected.has(id), `${label}: unknown snapshot ${id}`).toBe(true);
    expect(diffManifests(expected.get(id)!, manifest(out)), `${label}: snapshot ${id.slice(0, 8)}`).toEqual([]);
    fs.rmSync(target, { recursive: true, force: true });
  }
  return ids.length;
}

beforeAll(async () => {
  tmp = tempDir('repo-long-crashpoints-');
  src = path.join(tmp, 'src');
  fs.mkdirSync(src);
  change(0, FILES);
  const repo = new CliRepo(path.join(tmp, 'base'), tmp);
  await repo.ok(['init', '--chunker', '16K/64K/256K', '--pack-size', '4M']);
  await backup(repo);
  change(0, 4);
  await backup(repo);
  change(4, 4);
  await backup(repo);
  backupBase = repo.dir;
  pruneBase = path.join(tmp, 'prune-base');
  fs.cpSync(backupBase, pruneBase, { recursive: true });
  await new CliRepo(pruneBase, tmp).ok(['forget', '--keep-last', '2']);
}, 120_000);
afterAll(() => {
  console.log(
    `[crash points] ${results.length} kills tried, ${results.filter((r) => r.endsWith('survived')).length} survived:\n  ${results.join('\n  ')}`,
  );
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('crash points', () => {
  let n = 0;
  const fresh = (base: string) => {
    const dir = path.join(tmp, `case-${n++}`);
    fs.cpSync(base, dir, { recursive: true });
    return new CliRepo(dir, tmp);
  };

  it.each(['pack-stored', 'index-written', 'before-snapshot-write', 'after-snapshot-write'])(
    'backup killed at %s: check --read-data passes, every snapshot restores, the backup then completes',
    async (at) => {
      const repo = fresh(backupBase);
      change(8, 4);
      const r = await killedRun(repo.dir, ['backup', src], at);
      expect(r.signal, `backup did not reach ${at}: ${r.stderr}`).toBe('SIGKILL');
      const snaps = await repo.json<{ id: string }[]>(['snapshots']);
      // Only a kill after the snapshot write leaves a fourth snapshot; it must restore what the source holds now.
      expect(snaps).toHaveLength(at === 'after-snapshot-write' ? 4 : 3);
      for (const s of snaps) if (!expected.has(s.id)) expected.set(s.id, manifest(src));
      await repo.ok(['unlock']);
      const restored = await verify(repo, `backup@${at}`);
      await backup(repo);
      await verify(repo, `backup@${at}+rerun`, true);
      results.push(`backup@${at}: ${restored} snapshots restored, survived`);
    },
  );

  it.each([
    'pack-stored',
    'index-written',
    'before-old-index-delete',
    'after-old-index-delete',
    'before-pack-delete',
    'pack-deleted#2',
    'after-pack-delete',
  ])('prune killed at %s: check --read-data passes, every snapshot restores, the prune then completes', async (at) => {
    const repo = fresh(pruneBase);
    const r = await killedRun(repo.dir, ['prune', '--max-unused', '0%'], at);
    expect(r.signal, `prune did not reach ${at}: ${r.stderr}${r.out}`).toBe('SIGKILL');
    await repo.ok(['unlock']);
    const restored = await verify(repo, `prune@${at}`);
    await repo.ok(['prune', '--max-unused', '0%']);
    await verify(repo, `prune@${at}+rerun`, true);
    results.push(`prune@${at}: ${restored} snapshots restored, survived`);
  });

  it('without the opt-in variable, REPO_TEST_CRASH_AT does nothing', async () => {
    const repo = fresh(pruneBase);
    const r = await runCli(['-r', repo.dir, 'prune', '--max-unused', '0%'], {
      cwd: tmp,
      password: PASSWORD,
      env: { REPO_TEST_CRASH_AT: 'before-pack-delete' },
    });
    expect(r.signal).toBeNull();
    expect(r.code, r.stderr).toBe(0);
  });
});
