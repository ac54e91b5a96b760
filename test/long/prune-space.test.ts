// Prune after forget gives the space back: the repository directory shrinks by (about) the stored size of
// the data only the forgotten snapshots used, nothing that remaining snapshots need is lost, and temporary
// files that killed writers left behind long ago are removed too.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { CliRepo, diffManifests, manifest, repoSize, type Manifest } from './helpers.js';

const MiB = 1024 * 1024;
let tmp: string;
beforeAll(() => {
  tmp = tempDir('repo-long-prune-');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/**
 * A repository with one snapshot per entry of `unique`: each holds the same shared data plus one file of
 * random bytes (incompressible, so its stored size is its size plus a little) that no other snapshot has.
 */
async function setup(
  name: string,
  unique: number[],
): Promise<{ repo: CliRepo; src: string; ids: string[]; expected: Map<string, Manifest> }> {
  const repo = new CliRepo(path.join(tmp, name), tmp);
  await repo.ok(['init', '--chunker', '16K/64K/256K', '--pack-size', '4M']);
  const src = path.join(tmp, `${name}-src`);
  fs.mkdirSync(path.join(src, 'docs'), { recursive: true });
  const rand = prng(name.length * 7919);
  fs.writeFileSync(path.join(src, 'shared.bin'), randomBuffer(rand, 3 * MiB));
  fs.writeFileSync(path.join(src, 'docs/notes.txt'), Buffer.alloc(MiB, 'compressible shared text\n'));
  for (let i = 0; i < 40; i++)
    fs.writeFileSync(path.join(src, `docs/small-${i}.txt`), randomBuffer(rand, 100 + i * 37));
  const ids: string[] = [];
  const expected = new Map<string, Manifest>();
  for (const [i, size] of unique.entries()) {
    fs.writeFileSync(path.join(src, 'unique.bin'), randomBuffer(rand, size));
    fs.writeFileSync(path.join(src, 'docs/counter.txt'), `backup ${i}\n`);
    const r = await repo.json(['backup', src]);
    ids.push(r.snapshot_id);
    expected.set(r.snapshot_id, manifest(src));
  }
  return { repo, src, ids, expected };
}

async function restoresAll(repo: CliRepo, ids: string[], expected: Map<string, Manifest>): Promise<void> {
  for (const id of ids) {
    const target = path.join(tmp, `out-${id.slice(0, 12)}`);
    await repo.ok(['restore', `${id}:${tmp}`, '--target', target]); // the source's folder only (full paths, spec §10)
    const dirs = fs.readdirSync(target);
    expect(dirs).toHaveLength(1);
    expect(
      diffManifests(expected.get(id)!, manifest(path.join(target, dirs[0]))),
      `snapshot ${id.slice(0, 8)}`,
    ).toEqual([]);
    fs.rmSync(target, { recursive: true, force: true });
  }
}

describe('prune frees space', () => {
  it('forget, then prune --max-unused 0%: the repository shrinks by the unique bytes of the forgotten snapshots, and the rest restores', async () => {
    const unique = [1.5, 2.5, 1.2, 3.1, 2.0, 1.8].map((m) => Math.round(m * MiB));
    const { repo, ids, expected } = await setup('zero', unique);
    const forgotten = ids.slice(0, 4);
    const uniqueForgotten = unique.slice(0, 4).reduce((a, b) => a + b, 0);

    await repo.ok(['forget', ...forgotten]);
    const before = repoSize(repo.dir);
    const plan = await repo.json(['prune', '--dry-run', '--max-unused', '0%']);
    expect(repoSize(repo.dir).bytes).toBe(before.bytes); // a dry run changes nothing
    const done = await repo.json(['prune', '--max-unused', '0%']);
    const after = repoSize(repo.dir);
    const freed = before.bytes - after.bytes;
    console.log(
      `[prune-space] before ${before.bytes} B, after ${after.bytes} B, freed ${freed} B; unique bytes of the forgotten snapshots ${uniqueForgotten}; ` +
        `plan: delete ${plan.packs_to_delete}, repack ${plan.packs_to_repack} packs, frees ${plan.bytes_freed} B`,
    );
    expect(done.packs_to_delete + done.packs_to_repack).toBeGreaterThan(0);
    // At least what only the forgotten snapshots used (stored form: +40 bytes per blob, so never less)…
    expect(freed).toBeGreaterThanOrEqual(uniqueForgotten);
    // …and not much more: their tree blobs, pack headers and index entries, but nothing the others need.
    expect(freed).toBeLessThanOrEqual(uniqueForgotten * 1.01 + 256 * 1024);
    // The plan's estimate matches what was measured (new pack headers and index files aside).
    expect(Math.abs(freed - plan.bytes_freed)).toBeLessThan(64 * 1024);
    expect(after.allocated).toBeLessThan(before.allocated - uniqueForgotten * 0.95);

    const check = await repo.json(['check', '--read-data']);
    expect(check.problems).toEqual([]);
    expect(check.notes).toEqual([]);
    const again = await repo.json(['prune', '--dry-run', '--max-unused', '0%']);
    expect(again.packs_to_delete + again.packs_to_repack + again.unreferenced_packs).toBe(0);
    expect(again.bytes_unused).toBeLessThan(64 * 1024); // pack headers only
    expect((await repo.json<any[]>(['snapshots'])).map((s) => s.id).sort()).toEqual(ids.slice(4).sort());
    await restoresAll(repo, ids.slice(4), expected);
  });

  it('forget --prune with the default tolerance keeps unused space under 5%, and removes temporary files abandoned over an hour ago', async () => {
    const unique = [2.2, 1.4, 2.9, 1.1, 2.6].map((m) => Math.round(m * MiB));
    const { repo, ids, expected } = await setup('default', unique);
    // What writers killed long ago left: temporary files that never got their final name.
    const hoursAgo = (Date.now() - 2 * 3600_000) / 1000;
    const abandoned = [`data/${ids[0].slice(0, 2)}`, 'index', 'snapshots'].map((dir) => {
      const f = path.join(repo.dir, dir, `.tmp-${randomBytes(16).toString('hex')}`);
      fs.writeFileSync(f, randomBytes(MiB));
      fs.utimesSync(f, hoursAgo, hoursAgo);
      return f;
    });
    const young = path.join(repo.dir, 'data', ids[1].slice(0, 2), `.tmp-${randomBytes(16).toString('hex')}`);
    fs.writeFileSync(young, randomBytes(1000)); // could belong to a writer still at work: kept

    const before = repoSize(repo.dir);
    expect(before.tmpFiles).toBe(4);
    await repo.ok(['forget', '--keep-last', '2', '--prune']);
    const after = repoSize(repo.dir);
    const freed = before.bytes - after.bytes;
    const uniqueForgotten = unique.slice(0, 3).reduce((a, b) => a + b, 0);
    console.log(
      `[prune-space] default tolerance: freed ${freed} B of ${uniqueForgotten} unique + ${3 * MiB} abandoned temporary bytes`,
    );
    for (const f of abandoned) expect(fs.existsSync(f), f).toBe(false);
    expect(fs.existsSync(young)).toBe(true);
    expect(after.tmpFiles).toBe(1);
    // With 5% tolerated, a partly used pack may stay: up to 5% of what is used remains unused.
    const plan = await repo.json(['prune', '--dry-run']);
    expect(plan.bytes_unused).toBeLessThanOrEqual((plan.bytes_used * 5) / 95 + 64 * 1024);
    expect(freed).toBeGreaterThanOrEqual(uniqueForgotten + 3 * MiB - plan.bytes_unused);
    expect(freed).toBeLessThanOrEqual(uniqueForgotten * 1.01 + 3 * MiB + 256 * 1024);

    const check = await repo.json(['check', '--read-data']);
    expect(check.problems).toEqual([]);
    await restoresAll(repo, ids.slice(3), expected);
  });
});
