// `repo migrate` under a SIGKILL loop: killed at random instants, the repository is either still format 1 or
// already format 2 (the config write is the commit point), every snapshot restores exactly as backed up, check
// --read-data passes, and migrate run again completes.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { CliRepo, diffManifests, manifest, sleep, type Manifest } from './helpers.js';

const ROUNDS = 10;
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

describe('migrate under a SIGKILL loop', () => {
  it(`${ROUNDS} rounds killed at random instants: format 1 or 2, never broken; migrate completes after`, async () => {
    // How long an uninterrupted migrate takes, so the kills fall before, at and after the config write.
    const timing = path.join(tmp, 'timing');
    fs.cpSync(base, timing, { recursive: true });
    const full = await new CliRepo(timing, tmp).start(['migrate']).done;
    expect(full.code, full.stderr).toBe(0);
    const rand = prng(2026);
    const seen = { 1: 0, 2: 0 } as Record<number, number>;
    for (let round = 0; round < ROUNDS; round++) {
      const dir = path.join(tmp, `r${round}`);
      fs.cpSync(base, dir, { recursive: true });
      const repo = new CliRepo(dir, tmp);
      const run = repo.start(['migrate']);
      await sleep(Math.floor(rand() * full.ms * 1.1));
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
});
