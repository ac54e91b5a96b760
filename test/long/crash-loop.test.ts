// Crash loop: `repo backup` of a changing source tree and `repo forget --prune` / `repo prune` are killed with
// SIGKILL at random instants, again and again. After every kill the repository must pass `repo check`, the
// stale lock of the dead process must not block anyone, and every snapshot that existed before (less those
// the killed forget may have removed) must restore byte-identical to what was backed up.
//
// The loop is seeded: REPO_CRASH_SEED=<n> repeats a run's choices (the seed is in the test name); kill
// instants still depend on timing. REPO_CRASH_KILLS sets how many delivered kills to reach (default 52).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { CliRepo, diffManifests, manifest, parallel, repoSize, sleep, type Manifest } from './helpers.js';

const SEED = Number(process.env.REPO_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const MIN_KILLS = Number(process.env.REPO_CRASH_KILLS ?? 52);
const MAX_ITERATIONS = MIN_KILLS * 3;
const MiB = 1024 * 1024;

let tmp: string;
beforeAll(() => {
  tmp = tempDir('repo-long-crash-');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A source tree that changes between backups: files added, rewritten in part or whole, appended, removed. */
class Source {
  private stamp = 1_700_000_000;
  constructor(
    readonly root: string,
    private readonly rand: () => number,
  ) {}

  private pick<T>(xs: T[]): T {
    return xs[Math.floor(this.rand() * xs.length)];
  }

  private list(): { files: { rel: string; size: number }[]; dirs: string[] } {
    const files: { rel: string; size: number }[] = [];
    const dirs: string[] = [''];
    const walk = (rel: string) => {
      for (const e of fs.readdirSync(path.join(this.root, rel), { withFileTypes: true })) {
        const r = rel === '' ? e.name : `${rel}/${e.name}`;
        if (e.isDirectory()) {
          dirs.push(r);
          walk(r);
        } else if (e.isFile()) files.push({ rel: r, size: fs.statSync(path.join(this.root, r)).size });
      }
    };
    walk('');
    return { files, dirs };
  }

  size(): number {
    return this.list().files.reduce((n, f) => n + f.size, 0);
  }

  /** Sizes from empty to several times the largest chunk (256 KiB), so many files span several chunks. */
  private randomSize(): number {
    const r = this.rand();
    if (r < 0.1) return 0;
    if (r < 0.4) return Math.floor(this.rand() * 4096);
    if (r < 0.7) return 4096 + Math.floor(this.rand() * 200_000);
    return 300_000 + Math.floor(this.rand() * 1_700_000);
  }

  private content(n: number): Buffer {
    if (this.rand() < 0.75) return randomBuffer(this.rand, n);
    const line = `line ${Math.floor(this.rand() * 1e6)} of some compressible text\n`;
    return Buffer.alloc(n, line);
  }

  /** Gives a changed file a new, distinct mtime, so change detection against the parent snapshot sees it. */
  private touch(abs: string): void {
    this.stamp += 7;
    fs.utimesSync(abs, this.stamp, this.stamp);
  }

  private write(rel: string, data: Buffer): void {
    const abs = path.join(this.root, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, data);
    this.touch(abs);
  }

  private addFile(size = this.randomSize()): void {
    const { dirs } = this.list();
    this.write(
      path.posix.join(this.pick(dirs), `f${this.stamp}-${Math.floor(this.rand() * 1e6)}.bin`),
      this.content(size),
    );
  }

  init(): void {
    fs.mkdirSync(this.root, { recursive: true });
    for (const d of ['a', 'b', 'b/c', 'd/e/f']) fs.mkdirSync(path.join(this.root, d), { recursive: true });
    while (this.size() < 8 * MiB) this.addFile();
    fs.symlinkSync('a', path.join(this.root, 'link-to-a'));
  }

  /** A few random changes; the tree stays between 5 and 14 MiB. Returns a short description. */
  mutate(): string {
    const done: string[] = [];
    const ops = 2 + Math.floor(this.rand() * 4);
    for (let i = 0; i < ops; i++) {
      const { files, dirs } = this.list();
      const r = this.rand();
      if (r < 0.08) {
        this.addFile(2 * MiB + Math.floor(this.rand() * 3 * MiB)); // enough new data for a pack of its own
        done.push('add-big');
      } else if (r < 0.25 || files.length < 5) {
        this.addFile();
        done.push('add');
      } else if (r < 0.5) {
        // Overwrite a region in the middle of a (preferably multi-chunk) file: most of its chunks stay the same.
        const big = files.filter((f) => f.size > 300_000);
        const f = big.length > 0 && this.rand() < 0.8 ? this.pick(big) : this.pick(files);
        if (f.size === 0) continue;
        const abs = path.join(this.root, f.rel);
        const len = Math.min(f.size, 1 + Math.floor(this.rand() * 40_000));
        const fd = fs.openSync(abs, 'r+');
        fs.writeSync(fd, randomBuffer(this.rand, len), 0, len, Math.floor(this.rand() * (f.size - len + 1)));
        fs.closeSync(fd);
        this.touch(abs);
        done.push('patch');
      } else if (r < 0.6) {
        const abs = path.join(this.root, this.pick(files).rel);
        fs.appendFileSync(abs, this.content(Math.floor(this.rand() * 100_000)));
        this.touch(abs);
        done.push('append');
      } else if (r < 0.72) {
        this.write(this.pick(files).rel, this.content(this.randomSize()));
        done.push('rewrite');
      } else if (r < 0.9) {
        fs.rmSync(path.join(this.root, this.pick(files).rel));
        done.push('remove');
      } else if (r < 0.96) {
        const d = path.posix.join(this.pick(dirs), `dir${this.stamp}`);
        this.write(`${d}/x.bin`, this.content(this.randomSize()));
        if (this.rand() < 0.5) fs.symlinkSync('x.bin', path.join(this.root, d, 'link'));
        done.push('mkdir');
      } else {
        const sub = dirs.filter((d) => d !== '' && d !== 'a');
        if (sub.length === 0) continue;
        fs.rmSync(path.join(this.root, this.pick(sub)), { recursive: true });
        done.push('rmdir');
      }
    }
    while (this.size() > 14 * MiB) {
      const { files } = this.list();
      fs.rmSync(path.join(this.root, files.sort((a, b) => b.size - a.size)[Math.floor(this.rand() * 3)].rel));
      done.push('trim');
    }
    while (this.size() < 5 * MiB) {
      this.addFile(300_000 + Math.floor(this.rand() * 1_700_000));
      done.push('grow');
    }
    return done.join(',');
  }
}

interface KilledRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  stderr: string;
  ms: number;
  killed: boolean;
  at: string;
}

describe(`crash loop (seed ${SEED})`, () => {
  it(`survives >= ${MIN_KILLS} SIGKILLs of backup and prune at random instants (seed ${SEED})`, async () => {
    const rand = prng(SEED);
    const log = (s: string) => console.log(`[crash seed=${SEED}] ${s}`);
    const repo = new CliRepo(path.join(tmp, 'repo'), tmp);
    const srcDir = path.join(tmp, 'src');
    const src = new Source(srcDir, prng(SEED ^ 0x5eed));
    src.init();
    await repo.ok(['init', '--chunker', '16K/64K/256K', '--pack-size', '4M']);

    /** Live snapshots oldest first, with what each must restore to. */
    const order: string[] = [];
    const expected = new Map<string, Manifest>();
    /** Running estimates, from completed runs, of when a command has its lock and how long it works after that. */
    const est = { backup: { lock: 0, work: 0 }, prune: { lock: 0, work: 0 } };
    const phases = new Map<string, number>();
    let kills = 0;
    let completed = 0;
    let restores = 0;
    const started = Date.now();

    const backupDone = (out: string) => JSON.parse(out.trim().split('\n').pop()!).snapshot_id as string;

    const verifyRestores = async (label: string) => {
      await parallel([...order], 2, async (id) => {
        const target = path.join(tmp, `restore-${id.slice(0, 12)}`);
        const out = await repo.restore(id, target, srcDir);
        const diffs = diffManifests(expected.get(id)!, manifest(out));
        fs.rmSync(target, { recursive: true, force: true });
        restores++;
        expect(diffs, `${label}: snapshot ${id.slice(0, 8)} does not restore as backed up`).toEqual([]);
      });
    };

    /**
     * Runs a command and kills it: in 15% of runs at a random instant before it could have taken its lock
     * (start-up, key and index loading), otherwise at a random instant of its work after the lock appeared.
     * A run that ends before the kill counts as completed (and refines the timing estimates).
     */
    const runKilled = async (args: string[], kind: 'backup' | 'prune', calibrate: boolean): Promise<KilledRun> => {
      const mode = calibrate ? 'none' : rand() < 0.15 ? 'early' : 'work';
      const early = rand() * est[kind].lock;
      // Prune's last steps (new index, deletions) are short: half of its kills aim at the second half of its work.
      const work = (kind === 'prune' && rand() < 0.5 ? 0.4 + 0.7 * rand() : 1.1 * rand()) * est[kind].work;
      const locksBefore = new Set(repo.names('locks'));
      const p = repo.start(args);
      let closed = false;
      void p.done.then(() => (closed = true));
      const timers: NodeJS.Timeout[] = [];
      if (mode === 'early') timers.push(setTimeout(() => p.child.kill('SIGKILL'), early));
      let lockAt: number | undefined;
      while (!closed) {
        if (lockAt === undefined && repo.names('locks').some((l) => !locksBefore.has(l))) {
          lockAt = Date.now() - p.started;
          if (mode === 'work') timers.push(setTimeout(() => p.child.kill('SIGKILL'), work));
        }
        await sleep(2);
      }
      const r = await p.done;
      for (const t of timers) clearTimeout(t);
      const killed = r.signal === 'SIGKILL';
      if (!killed) {
        expect(r.code, `${args.join(' ')}:\n${r.stderr}`).toBe(0);
        if (lockAt !== undefined) {
          const e = est[kind];
          const first = e.lock === 0;
          e.lock = first ? lockAt : 0.7 * e.lock + 0.3 * lockAt;
          e.work = first ? r.ms - lockAt : 0.7 * e.work + 0.3 * (r.ms - lockAt);
        }
      }
      const at =
        mode === 'early'
          ? `${Math.round(early)} ms after start`
          : `${Math.round(work)} ms after its lock (taken at ${lockAt} ms)`;
      return { ...r, killed, at };
    };

    /** A completed backup of the (changed) source, recorded as a snapshot that must restore. */
    const completedBackup = async () => {
      src.mutate();
      const m = manifest(srcDir);
      const r = await runKilled(['--json', 'backup', srcDir], 'backup', true);
      const id = backupDone(r.out);
      order.push(id);
      expected.set(id, m);
      completed++;
    };

    for (let iter = 1; kills < MIN_KILLS; iter++) {
      if (iter > MAX_ITERATIONS) throw new Error(`only ${kills} kills in ${MAX_ITERATIONS} iterations`);
      const doPrune = rand() < 0.4;
      // Forget must have something to remove, so that prune deletes and repacks packs.
      if (doPrune) while (order.length < 3) await completedBackup();
      const before = {
        snaps: new Set(order),
        packs: new Set(repo.names('data')),
        index: new Set(repo.names('index')),
        locks: new Set(repo.names('locks')),
        tmp: repoSize(repo.dir).tmpFiles,
      };
      let label: string;
      let killedRun: KilledRun;
      let wouldRemove: string[] = [];
      let manifestNow: Manifest | undefined;

      if (doPrune) {
        const keep = 1 + Math.floor(rand() * Math.min(3, order.length - 1));
        wouldRemove = order.slice(0, order.length - keep);
        const calibrate = est.prune.lock === 0;
        if (rand() < 0.7) {
          label = `forget --keep-last ${keep} --prune`;
          killedRun = await runKilled(
            ['forget', '--keep-last', String(keep), '--prune', '--max-unused', '0%'],
            'prune',
            calibrate,
          );
        } else {
          label = `forget --keep-last ${keep}; prune`;
          await repo.ok(['forget', '--keep-last', String(keep)]);
          const stillThere = new Set(repo.names('snapshots'));
          for (const id of wouldRemove) expect(stillThere.has(id)).toBe(false);
          killedRun = await runKilled(['prune', '--max-unused', '0%'], 'prune', calibrate);
        }
      } else {
        label = `backup [${src.mutate()}]`;
        manifestNow = manifest(srcDir);
        killedRun = await runKilled(['--json', 'backup', srcDir], 'backup', est.backup.lock === 0);
      }
      if (killedRun.killed) kills++;
      else completed++;

      // What is in the repository now (a snapshot's id is its file name).
      const listed = repo.names('snapshots');
      const now = new Set(listed);
      const added = listed.filter((id) => !before.snaps.has(id));
      const removed = [...before.snaps].filter((id) => !now.has(id));
      if (doPrune) {
        expect(added).toEqual([]);
        for (const id of removed) expect(wouldRemove, `${label} removed a snapshot the policy keeps`).toContain(id);
        if (!killedRun.killed) expect(removed.sort()).toEqual([...wouldRemove].sort());
        for (const id of removed) {
          expected.delete(id);
          order.splice(order.indexOf(id), 1);
        }
      } else {
        expect(removed, 'a backup removed snapshots').toEqual([]);
        expect(added.length).toBeLessThanOrEqual(1);
        if (!killedRun.killed) expect(added).toEqual([backupDone(killedRun.out)]);
        if (added.length === 1) {
          order.push(added[0]);
          expected.set(added[0], manifestNow!);
        }
      }

      // Where the kill landed, judged by what the killed process left behind.
      const packs = repo.names('data');
      const index = repo.names('index');
      const newPacks = packs.filter((p) => !before.packs.has(p)).length;
      const gonePacks = before.packs.size - packs.filter((p) => before.packs.has(p)).length;
      const newIndex = index.filter((p) => !before.index.has(p)).length;
      const goneIndex = before.index.size - index.filter((p) => before.index.has(p)).length;
      const newLocks = repo.names('locks').filter((l) => !before.locks.has(l)).length;
      const tmpNow = repoSize(repo.dir).tmpFiles;
      let phase = 'completed';
      if (killedRun.killed) {
        if (!doPrune) {
          if (added.length > 0) phase = 'backup: after snapshot save';
          else if (newIndex > 0) phase = 'backup: after index write';
          else if (newPacks > 0 || tmpNow > before.tmp) phase = 'backup: during pack writes';
          else if (newLocks > 0) phase = 'backup: locked, reading and chunking';
          else phase = 'backup: starting up';
        } else if (label.startsWith('forget') && !label.includes(';') && removed.length < wouldRemove.length) {
          phase =
            removed.length === 0
              ? newLocks > 0
                ? 'forget: locked, before removing'
                : 'forget: starting up'
              : 'forget: removing snapshots';
        } else if (gonePacks > 0) phase = 'prune: deleting packs';
        else if (goneIndex > 0) phase = 'prune: removing superseded index files';
        else if (newIndex > 0) phase = 'prune: new index written';
        else if (newPacks > 0 || tmpNow > before.tmp) phase = 'prune: repacking';
        else if (newLocks > 0) phase = 'prune: locked, planning';
        else phase = 'prune: starting up';
        phases.set(phase, (phases.get(phase) ?? 0) + 1);
      }

      // An exclusive locker proceeds despite the dead process's lock (stale: same host, no such pid), and the
      // prune planner finds every blob the snapshots need.
      if (killedRun.killed && newLocks > 0) await repo.ok(['prune', '--dry-run']);

      const readData = iter % 8 === 0;
      const check = await repo.run(['--json', 'check', ...(readData ? ['--read-data'] : [])]);
      const report = JSON.parse(check.out.trim().split('\n').pop() || '{}');
      expect(check.code, `check after ${label} (${phase}): ${check.stderr}${JSON.stringify(report.problems)}`).toBe(0);
      expect(report.problems).toEqual([]);

      // `unlock` removes exactly the dead process's lock (done right away, so its pid cannot have been reused).
      if (newLocks > 0) {
        const stale = repo.names('locks');
        expect(stale).toHaveLength(newLocks);
        const u = await repo.json(['unlock']);
        expect([...u.removed].sort()).toEqual(stale);
        expect(repo.names('locks')).toEqual([]);
      }

      const ms = killedRun.killed ? `killed ${killedRun.at}` : `completed in ${killedRun.ms} ms`;
      log(
        `#${iter} ${label}: ${ms} → ${phase}; snapshots ${order.length}, packs ${packs.length}, index files ${index.length}, kills ${kills}${readData ? ', read-data ok' : ''}`,
      );

      if (killedRun.killed || doPrune) await verifyRestores(`after ${label} (${phase})`);
    }

    // Finally: a prune that completes, then a full read of the data and every snapshot once more.
    await repo.ok(['forget', '--keep-last', '2']);
    await repo.ok(['prune', '--max-unused', '0%']); // also removes what killed backups and prunes left unreferenced
    while (order.length > 2) expected.delete(order.shift()!);
    const final = await repo.json(['check', '--read-data']);
    expect(final.problems).toEqual([]);
    expect(final.notes.filter((n: any) => n.kind === 'unreferenced-pack' || n.kind === 'superseded-index')).toEqual([]);
    await verifyRestores('final');
    await repo.ok(['unlock']);
    expect(repo.names('locks')).toEqual([]);

    const size = repoSize(repo.dir);
    const phaseList = [...phases]
      .sort((a, b) => b[1] - a[1])
      .map(([p, n]) => `${p}: ${n}`)
      .join('; ');
    log(
      `done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${kills} kills, ${completed} completed runs, ${restores} snapshot restores verified`,
    );
    log(`kill phases: ${phaseList}`);
    log(
      `repository ${(size.bytes / MiB).toFixed(1)} MiB, of which ${size.tmpFiles} abandoned temporary files (${(size.tmpBytes / MiB).toFixed(1)} MiB)`,
    );
    expect(kills).toBeGreaterThanOrEqual(MIN_KILLS);
    expect(phases.size).toBeGreaterThanOrEqual(4);
  }, 900_000);
});
