import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupPaths } from '../../src/archiver/index.js';
import { MemoryBackend } from '../../src/backend/memory.js';
import { checkRepository } from '../../src/maintenance/check.js';
import { parseSubset, selectPacks } from '../../src/maintenance/subset.js';
import { Repository } from '../../src/repository/repository.js';
import { CHEAP_TEST_SCRYPT } from '../../src/crypto/kdf.js';
import { PASSWORD, tempDir } from '../helpers/repo.js';
import { generateTree } from '../helpers/tree-gen.js';
import { loadTree } from '../../src/tree/tree-store.js';
import { walkTree } from '../../src/tree/walk.js';
import { listSnapshots } from '../../src/snapshot/snapshot.js';

let src: string;
beforeAll(() => {
  src = tempDir();
  generateTree(path.join(src, 'data'), { seed: 11, maxChunk: 1 << 20, maxEntries: 6 });
});
afterAll(() => fs.rmSync(src, { recursive: true, force: true }));

async function backedUp(): Promise<{ backend: MemoryBackend; snapshotId: string }> {
  const backend = new MemoryBackend();
  const repo = await Repository.init(backend, PASSWORD, {
    kdf: CHEAP_TEST_SCRYPT,
    chunker: { algorithm: 'fastcdc-ronomon', min: 64 * 1024, avg: 256 * 1024, max: 1 << 20 },
    packSize: 4 << 20,
  });
  const r = await backupPaths(repo, [path.join(src, 'data')]);
  return { backend, snapshotId: r.snapshotId! };
}

const reopen = (b: MemoryBackend) => Repository.open(b, PASSWORD, { skipIndex: true });

describe('check', () => {
  it('passes on a healthy repository, with and without reading data', async () => {
    const { backend } = await backedUp();
    const r = await checkRepository(await reopen(backend));
    expect(r.problems).toEqual([]);
    expect(r.counts.snapshots).toBe(1);
    const full = await checkRepository(await reopen(backend), { readData: true });
    expect(full.problems).toEqual([]);
    expect(full.readData!.packsRead).toBe(full.counts.packs);
    expect(full.readData!.estimatedRestoreSeconds).toBeGreaterThan(0);
  });

  it('sums the stored bytes of the distinct blobs the newest snapshot of each path set needs', async () => {
    const { backend } = await backedUp();
    const repo = await Repository.open(backend, PASSWORD);
    const other = path.join(src, 'data'); // same files under a second path set: shared blobs count once
    fs.mkdirSync(path.join(src, 'more'), { recursive: true });
    fs.writeFileSync(path.join(src, 'more', 'new.bin'), Buffer.alloc(300_000, 7));
    await backupPaths(repo, [other, path.join(src, 'more')]);
    fs.writeFileSync(path.join(src, 'more', 'new.bin'), Buffer.alloc(200_000, 9));
    await backupPaths(repo, [other, path.join(src, 'more')]); // the newest of that path set
    const expected = new Map<string, number>();
    const snapshots = (await listSnapshots(repo)).sort((a, b) => a.time.localeCompare(b.time));
    const heads = new Map(snapshots.map((sn) => [JSON.stringify([...sn.paths].sort()), sn]));
    const at = (type: 'data' | 'tree', id: string) =>
      expected.set(type + id, repo.index.lookup(type, Buffer.from(id, 'hex'))!.storedLength);
    for (const sn of heads.values()) {
      at('tree', sn.tree);
      await walkTree((id) => loadTree(repo, id), sn.tree, {
        node: (n) => {
          for (const c of n.content ?? []) at('data', c);
          if (n.subtree) at('tree', n.subtree);
        },
        treeError: (id, _p, err) => {
          throw err;
        },
      });
    }
    const r = await checkRepository(await reopen(backend), { readData: true });
    expect(r.problems).toEqual([]);
    expect(heads.size).toBe(2);
    expect(r.readData!.restoreStoredBytes).toBe([...expected.values()].reduce((x, y) => x + y, 0));
    fs.rmSync(path.join(src, 'more'), { recursive: true, force: true });
  });

  it('finds a flipped bit in a data pack only when reading data, and names pack, snapshot and paths', async () => {
    const { backend, snapshotId } = await backedUp();
    const repo = await Repository.open(backend, PASSWORD);
    // The largest data pack: it surely holds file content.
    const packs = [...repo.index.entries()].filter((e) => e.type === 'data');
    const victim = packs.sort((a, b) => b.storedLength - a.storedLength)[0];
    const h = { type: 'data' as const, name: victim.pack };
    const bytes = await backend.load(h);
    bytes[victim.offset + 100] ^= 4;
    await backend.save(h, bytes);
    expect((await checkRepository(await reopen(backend))).problems).toEqual([]);
    // Verified on worker threads and on this thread: the same findings.
    const reports = [];
    for (const workers of [2, 0]) {
      const r = await checkRepository(await reopen(backend), { readData: true, workers });
      expect(r.ok).toBe(false);
      expect(r.problems.map((p) => p.kind).sort()).toEqual(['blob', 'pack-hash']);
      expect(r.problems.every((p) => p.pack === victim.pack)).toBe(true);
      expect(r.affected.length).toBeGreaterThan(0);
      expect(
        r.affected.every((a) => a.snapshot === snapshotId && a.path.startsWith(path.join(src, 'data/').slice(1))),
      ).toBe(true);
      reports.push({ problems: r.problems, affected: r.affected, blobs: r.readData!.blobsChecked });
    }
    expect(reports[0]).toEqual(reports[1]);
  });

  it('reports a missing pack, the index naming it and the files it affects', async () => {
    const { backend } = await backedUp();
    const repo = await Repository.open(backend, PASSWORD);
    const pack = [...repo.index.entries()].find((e) => e.type === 'data')!.pack;
    await backend.remove({ type: 'data', name: pack });
    const r = await checkRepository(await reopen(backend));
    expect(r.problems.some((p) => p.kind === 'pack-missing' && p.pack === pack)).toBe(true);
    expect(r.affected.length).toBeGreaterThan(0);
  });

  it('reports a damaged index file and a damaged snapshot by file name', async () => {
    const { backend, snapshotId } = await backedUp();
    const [idx] = await (await reopen(backend)).listNames('index');
    for (const h of [
      { type: 'index' as const, name: idx },
      { type: 'snapshots' as const, name: snapshotId },
    ]) {
      const b = await backend.load(h);
      b[b.length - 3] ^= 1;
      await backend.save(h, b);
    }
    const r = await checkRepository(await reopen(backend));
    expect(r.problems.find((p) => p.kind === 'index')?.file).toBe(`index/${idx}`);
    expect(r.problems.find((p) => p.kind === 'snapshot')?.file).toBe(`snapshots/${snapshotId}`);
  });

  it('notes an unreferenced pack without failing', async () => {
    const { backend } = await backedUp();
    const repo = await Repository.open(backend, PASSWORD);
    await repo.saveBlob('data', Buffer.from('orphan'));
    await (repo as any).packer.flush(); // stored but never indexed, like an interrupted backup
    const r = await checkRepository(await reopen(backend));
    expect(r.ok).toBe(true);
    expect(r.notes.some((n) => n.kind === 'unreferenced-pack')).toBe(true);
  });
});

describe('read-data subsets', () => {
  it('parses n/t, percentages and sizes', () => {
    expect(parseSubset('2/5')).toEqual({ kind: 'slice', n: 2, t: 5 });
    expect(parseSubset('10%')).toEqual({ kind: 'percent', percent: 10 });
    expect(parseSubset('500M')).toEqual({ kind: 'size', bytes: 500 * 1024 * 1024 });
    for (const bad of ['0/3', '4/3', '0%', '101%', 'x', '']) expect(() => parseSubset(bad)).toThrow();
  });

  it('covers every pack exactly once over slices 1/t..t/t', () => {
    const packs = new Map(
      Array.from({ length: 37 }, (_, i) => [i.toString(16).padStart(64, '0'), 100] as [string, number]),
    );
    const seen: string[] = [];
    for (let n = 1; n <= 5; n++) seen.push(...selectPacks(packs, { kind: 'slice', n, t: 5 }));
    expect(seen.sort()).toEqual([...packs.keys()].sort());
    expect(selectPacks(packs, { kind: 'percent', percent: 10 }).length).toBe(4);
    expect(selectPacks(packs, { kind: 'size', bytes: 450 }).length).toBe(4);
  });
});
