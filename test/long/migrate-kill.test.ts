// `repo migrate` under a SIGKILL loop: killed at random instants, the repository is either still format 1 or
// already format 2 (the config write is the commit point), every snapshot restores exactly as backed up, check
// --read-data passes, and migrate run again completes.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { runCli } from '../helpers/cli.js';
import { CliRepo, diffManifests, manifest, PASSWORD, sleep, type Manifest } from './helpers.js';

const ROUNDS = 8;
let tmp: string;
let src: string;
let base: string; // a format-1 repository with two snapshots, copied afresh for every round
const expected = new Map<string, Manifest>();

beforeAll(async () => {
  tmp = tempDir('repo-migrate-kill-');
  src = path.join(tmp, 'src');
  fs.mkdirSync(src);
  const rand = prng(18_3);
  base = path.join(tmp, 'base');
  const repo = new CliRepo(base, tmp);
  await repo.ok(['init', '--format', '1']);
  for (const round of [0, 1]) {
    fs.writeFileSync(path.join(src, `f${round}.bin`), randomBuffer(rand, 1_200_000));
    fs.writeFileSync(path.join(src, 'notes.txt'), `round ${round}\n`.repeat(5000));
    const id = (await repo.json(['backup', src])).snapshot_id as string;
    expected.set(id, manifest(src));
  }
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function verify(repo: CliRepo, label: string): Promise<void> {
  await repo.ok(['unlock']); // the killed migrate's lock is stale
  const c = await repo.run(['check', '--read-data']);
  expect(c.code, `${label}: check\n${c.stderr}${c.out}`).toBe(0);
  const ids = (await repo.json<{ id: string }[]>(['snapshots'])).map((s) => s.id);
  expect(new Set(ids)).toEqual(new Set(expected.keys()));
  for (const id of ids) {
    const target = path.join(tmp, `restore-${label}-${id.slice(0, 8)}`);
    const out = await repo.restore(id, target, src);
    expect(diffManifests(expected.get(id)!, manifest(out)), `${label}: snapshot ${id.slice(0, 8)}`).toEqual([]);
    fs.rmSync(target, { recursive: true, force: true });
  }
}

async function formatOf(repo: CliRepo): Promise<number> {
  return (JSON.parse((await repo.ok(['cat', 'config'])).out) as { version: number }).version;
}

/** Resolves when `repo` has a lock file, or when the run ended first (then false). */
async function lockSeen(repo: CliRepo, done: Promise<unknown>): Promise<boolean> {
  let ended = false;
  void done.then(() => (ended = true));
  while (!ended) {
    if (repo.names('locks').length > 0) return true;
    await sleep(2);
  }
  return false;
}

describe('migrate under a SIGKILL loop', () => {
  it(`${ROUNDS} rounds killed at random instants: format 1 or 2, never broken; migrate completes after`, async () => {
    // How long an uninterrupted migrate holds its lock: the kills fall from the lock's appearance (the
    // repository is open, the config about to be written) to a little after the run would have ended.
    const timing = new CliRepo(path.join(tmp, 'timing'), tmp);
    fs.cpSync(base, timing.dir, { recursive: true });
    const t = timing.start(['migrate']);
    expect(await lockSeen(timing, t.done)).toBe(true);
    const locked = Date.now();
    const full = await t.done;
    expect(full.code, full.stderr).toBe(0);
    const window = Math.max(50, (Date.now() - locked) * 1.2);
    const rand = prng(2026);
    const seen = { 1: 0, 2: 0 } as Record<number, number>;
    for (let round = 0; round < ROUNDS; round++) {
      const dir = path.join(tmp, `r${round}`);
      fs.cpSync(base, dir, { recursive: true });
      const repo = new CliRepo(dir, tmp);
      const run = repo.start(['migrate']);
      // Every other round from the start (start-up, opening, locking), the others from the lock on.
      if (round % 2 === 1) await lockSeen(repo, run.done);
      await sleep(Math.floor(rand() * (round % 2 === 1 ? window : full.ms)));
      run.child.kill('SIGKILL');
      await run.done;
      const version = await formatOf(repo);
      expect([1, 2]).toContain(version);
      seen[version]++;
      await verify(repo, `round ${round} (format ${version})`);
      await repo.ok(['migrate']);
      expect(await formatOf(repo)).toBe(2);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    console.log(`migrate kill loop: ${seen[1]} rounds left format 1, ${seen[2]} reached format 2`);
  }, 600_000);

  // The two sides of the commit point for certain (the random kills may fall on one side only).
  for (const [at, version] of [
    ['migrate-before-config', 1],
    ['migrate-after-config', 2],
  ] as const) {
    it(`killed at ${at}: format ${version}, everything restores, migrate completes after`, async () => {
      const dir = path.join(tmp, at);
      fs.cpSync(base, dir, { recursive: true });
      const repo = new CliRepo(dir, tmp);
      const r = await runCli(['-r', dir, 'migrate'], {
        cwd: tmp,
        password: PASSWORD,
        env: { REPO_TEST_ENABLE_CRASH_POINTS: '1', REPO_TEST_CRASH_AT: at },
      });
      expect(r.signal).toBe('SIGKILL');
      expect(await formatOf(repo)).toBe(version);
      await verify(repo, at);
      await repo.ok(['migrate']);
      expect(await formatOf(repo)).toBe(2);
    }, 120_000);
  }
});
