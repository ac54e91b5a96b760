// Several processes on one repository at once, through the built CLI: concurrent backups (two of them of the
// same tree, so the same blobs are written by two writers), and the lock protocol between backup and prune
// (refusal with exit 11 naming the holder, and waiting with --retry-lock).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { compareTrees, generateTree } from '../helpers/tree-gen.js';
import { CliRepo, parallel, sleep, type RunningCli } from './helpers.js';

const CHUNKER = '16K/64K/256K';
let tmp: string;

beforeAll(() => {
  tmp = tempDir('repo-long-conc-');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function newRepo(name: string): Promise<CliRepo> {
  const repo = new CliRepo(path.join(tmp, name), tmp);
  await repo.ok(['init', '--chunker', CHUNKER, '--pack-size', '4M']);
  return repo;
}

/** A directory with `n` files of random bytes (so every file is its own blobs). */
function randomDir(dir: string, seed: number, n: number, size: number): string {
  fs.mkdirSync(dir, { recursive: true });
  const rand = prng(seed);
  for (let i = 0; i < n; i++)
    fs.writeFileSync(path.join(dir, `f${i}.bin`), randomBuffer(rand, Math.floor(size * (0.5 + rand()))));
  return dir;
}

/** Kills what a test left running (a stopped prune, a backup waiting for input). */
function cleanup(procs: (RunningCli | undefined)[]): void {
  for (const p of procs) {
    if (p && p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGCONT');
      p.child.kill('SIGKILL');
    }
  }
}

describe('concurrent backups into one repository', () => {
  it('five backups at once (two of the same tree) all succeed, check --read-data passes and each snapshot restores identically', async () => {
    const repo = await newRepo('multi');
    // Four different trees; each also holds the same 1.5 MiB file, so the writers store some blobs in duplicate.
    const common = randomBuffer(prng(99), 1_500_000);
    const trees = [1, 2, 3, 4].map((seed) => {
      const dir = path.join(tmp, `tree${seed}`);
      generateTree(dir, { seed: 1000 + seed, maxChunk: 256 * 1024, maxDepth: 3, maxEntries: 9 });
      fs.writeFileSync(path.join(dir, 'common.bin'), common);
      return dir;
    });
    const sources = [...trees, trees[0]]; // the pair: tree1 twice
    const runs = sources.map((src) => repo.start(['--json', 'backup', src]));
    const results = await Promise.all(runs.map((r) => r.done));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const summaries = results.map((r) => JSON.parse(r.out.trim().split('\n').pop()!));
    const ids = summaries.map((s) => s.snapshot_id as string);
    expect(new Set(ids).size).toBe(5);

    const listed = await repo.json<any[]>(['snapshots']);
    expect(listed.map((s) => s.id).sort()).toEqual([...ids].sort());
    const check = await repo.json(['check', '--read-data']);
    expect(check.ok, JSON.stringify(check.problems)).toBe(true);
    expect(check.problems).toEqual([]);
    // Concurrent appends may also fork the audit log (a note; the next entry merges the heads).
    expect(
      check.notes.filter(
        (n: any) => n.kind !== 'duplicate-blob' && !(n.kind === 'audit' && /newest entries/.test(n.message)),
      ),
    ).toEqual([]);
    // Writers that ran at the same time cannot see each other's blobs: if both backups of tree1 stored data,
    // the repository holds duplicates, which check reports as notes, not problems.
    const pairAdded = [summaries[0].data_added, summaries[4].data_added];
    if (pairAdded.every((n) => n > 0)) expect(check.notes.some((n: any) => n.kind === 'duplicate-blob')).toBe(true);

    const restoreAll = async (label: string) =>
      parallel(
        ids.map((id, i) => [id, i] as const),
        2,
        async ([id, i]) => {
          const out = await repo.restore(id, path.join(tmp, `multi-out-${label}-${i}`), sources[i]);
          expect(compareTrees(sources[i], out), `snapshot ${id} of ${sources[i]}`).toEqual([]);
          fs.rmSync(path.dirname(out), { recursive: true, force: true });
        },
      );
    await restoreAll('a');

    // Prune with no tolerance for unused space removes the duplicates; everything still restores.
    await repo.ok(['prune', '--max-unused', '0%']);
    const after = await repo.json(['check', '--read-data']);
    expect(after.problems).toEqual([]);
    expect(after.notes).toEqual([]);
    await restoreAll('b');
    expect(repo.names('locks')).toEqual([]);
  });
});

describe('locks between backup and prune', () => {
  it('prune is refused with exit 11 naming the holder while a backup holds its shared lock, and succeeds after it', async () => {
    const repo = await newRepo('lock-a');
    await repo.ok(['backup', randomDir(path.join(tmp, 'lock-a-src'), 1, 4, 300_000)]);
    await repo.ok(['forget', 'latest']);
    const holder = repo.start(['backup', '--stdin', '--stdin-filename', 'slow.bin'], { keepStdin: true });
    try {
      await repo.waitForLock();
      const r = await repo.run(['prune']);
      expect(r.code).toBe(11);
      expect(r.stderr).toMatch(/repository is locked: a lock [0-9a-f]{8} is held by .*@.* \(pid (\d+)\)/);
      expect(r.stderr).toContain(`(pid ${holder.child.pid})`);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      // Other shared lockers are not refused.
      await repo.ok(['check']);
      await repo.ok(['snapshots']);
      const forget = await repo.run(['forget', '--keep-last', '1']);
      expect(forget.code).toBe(11);
    } finally {
      holder.stdin.end(randomBuffer(prng(5), 700_000));
    }
    const b = await holder.done;
    expect(b.code, b.stderr).toBe(0);
    expect(repo.names('locks')).toEqual([]);
    const pruned = await repo.json(['prune', '--max-unused', '0%']);
    expect(pruned.packs_to_delete + pruned.packs_to_repack).toBeGreaterThan(0);
    expect((await repo.json(['check', '--read-data'])).ok).toBe(true);
    await repo.ok(['restore', 'latest', '--target', path.join(tmp, 'lock-a-out')]);
    expect(fs.readFileSync(path.join(tmp, 'lock-a-out/slow.bin')).equals(randomBuffer(prng(5), 700_000))).toBe(true);
  });

  // Regression: the index used to be loaded before the lock was taken, so a prune that waited for a backup
  // planned without the backup's packs and refused with a false "tree … cannot be read".
  it('prune --retry-lock waits for a running backup, then prunes with an index that includes it', async () => {
    const repo = await newRepo('lock-b');
    await repo.ok(['backup', randomDir(path.join(tmp, 'lock-b-src'), 2, 4, 300_000)]);
    await repo.ok(['forget', 'latest']);
    const holder = repo.start(['backup', '--stdin', '--stdin-filename', 'slow.bin'], { keepStdin: true });
    let prune: RunningCli | undefined;
    try {
      await repo.waitForLock();
      prune = repo.start(['--retry-lock', '1m', 'prune', '--max-unused', '0%']);
      await sleep(1500); // prune has started, found the shared lock and is waiting
      expect(prune.child.exitCode).toBe(null);
      holder.stdin.end(randomBuffer(prng(6), 700_000));
      expect((await holder.done).code).toBe(0);
      const p = await prune.done;
      expect(p.code, p.stderr).toBe(0);
    } finally {
      cleanup([holder, prune]);
    }
    expect((await repo.json(['check', '--read-data'])).ok).toBe(true);
  });

  /**
   * Starts a prune and freezes it (SIGSTOP) as soon as its exclusive lock file exists, before it has changed
   * any index file; retries on a fresh copy of the repository in the unlikely case it got further.
   */
  async function frozenPrune(repo: CliRepo, args: string[]): Promise<RunningCli> {
    const pristine = repo.dir + '.pristine';
    fs.cpSync(repo.dir, pristine, { recursive: true });
    for (let attempt = 0; ; attempt++) {
      const indexBefore = repo.names('index');
      const prune = repo.start(args);
      await repo.waitForLock();
      prune.child.kill('SIGSTOP');
      const lockStillThere = repo.names('locks').length === 1;
      if (lockStillThere && repo.names('index').join() === indexBefore.join() && prune.child.exitCode === null)
        return prune;
      prune.child.kill('SIGCONT');
      await prune.done;
      if (attempt === 3) throw new Error('could not freeze prune before it rewrote the index');
      fs.rmSync(repo.dir, { recursive: true, force: true });
      fs.cpSync(pristine, repo.dir, { recursive: true });
    }
  }

  /** A repository with several snapshots over many small files (so prune plans for a while), some forgotten. */
  async function pruneableRepo(name: string): Promise<{ repo: CliRepo; forgottenSrc: string; keptSrc: string }> {
    const repo = await newRepo(name);
    const forgottenSrc = randomDir(path.join(tmp, `${name}-old`), 10, 6, 400_000);
    const keptSrc = path.join(tmp, `${name}-kept`);
    fs.mkdirSync(keptSrc);
    const rand = prng(11);
    for (let i = 0; i < 2500; i++)
      fs.writeFileSync(path.join(keptSrc, `small-${i}`), randomBuffer(rand, 64 + (i % 200)));
    await repo.ok(['backup', forgottenSrc]);
    await repo.ok(['backup', keptSrc]);
    await repo.ok(['forget', (await repo.json<any[]>(['snapshots'])).find((s) => s.paths[0] === forgottenSrc).id]);
    return { repo, forgottenSrc, keptSrc };
  }

  it('a backup is refused with exit 11 while prune holds the exclusive lock, and with --retry-lock waits and then succeeds', async () => {
    const { repo, keptSrc } = await pruneableRepo('lock-c');
    const newSrc = randomDir(path.join(tmp, 'lock-c-new'), 12, 5, 300_000);
    let prune: RunningCli | undefined;
    let waiter: RunningCli | undefined;
    try {
      prune = await frozenPrune(repo, ['prune', '--max-unused', '0%']);
      const refused = await repo.run(['backup', newSrc]);
      expect(refused.code).toBe(11);
      expect(refused.stderr).toMatch(/repository is locked: an exclusive lock [0-9a-f]{8} is held by .*\(pid \d+\)/);
      expect(refused.stderr).toContain(`(pid ${prune.child.pid})`);
      expect(repo.names('snapshots')).toHaveLength(1);

      waiter = repo.start(['--retry-lock', '2m', 'backup', newSrc]);
      await sleep(2500);
      expect(waiter.child.exitCode).toBe(null); // still waiting for the frozen prune
      prune.child.kill('SIGCONT');
      const p = await prune.done;
      expect(p.code, p.stderr).toBe(0);
      const w = await waiter.done;
      expect(w.code, w.stderr).toBe(0);
      expect(w.ms).toBeGreaterThanOrEqual(2500);
    } finally {
      cleanup([prune, waiter]);
    }
    const check = await repo.json(['check', '--read-data']);
    expect(check.problems).toEqual([]);
    const snaps = await repo.json<any[]>(['snapshots']);
    expect(snaps.map((s) => s.paths[0]).sort()).toEqual([keptSrc, newSrc].sort());
    for (const sn of snaps) {
      const src = sn.paths[0] as string;
      const out = await repo.restore(sn.id, path.join(tmp, `lock-c-out-${sn.short_id}`), src);
      expect(compareTrees(src, out)).toEqual([]);
    }
    expect(repo.names('locks')).toEqual([]);
  });

  // Regression: a backup that loaded the index before waiting for the lock deduplicated against blobs the
  // prune then deleted, and saved a snapshot whose data was gone.
  it('a backup that waited with --retry-lock for prune does not reuse blobs the prune deleted', async () => {
    const { repo, forgottenSrc } = await pruneableRepo('lock-d');
    let prune: RunningCli | undefined;
    let waiter: RunningCli | undefined;
    try {
      prune = await frozenPrune(repo, ['prune', '--max-unused', '0%']);
      // The forgotten tree comes back: its blobs are in the (old) index but the prune is about to delete them.
      waiter = repo.start(['--retry-lock', '2m', 'backup', forgottenSrc]);
      await sleep(2500);
      prune.child.kill('SIGCONT');
      expect((await prune.done).code).toBe(0);
      expect((await waiter.done).code).toBe(0);
    } finally {
      cleanup([prune, waiter]);
    }
    const check = await repo.json(['check']);
    expect(check.problems).toEqual([]);
    const out = await repo.restore('latest', path.join(tmp, 'lock-d-out'), forgottenSrc);
    expect(compareTrees(forgottenSrc, out)).toEqual([]);
  });
});
