import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupPaths } from '../../src/archiver/index.js';
import { MemoryBackend } from '../../src/backend/memory.js';
import { BackendError } from '../../src/core/errors.js';
import { checkRepository } from '../../src/maintenance/check.js';
import { repairIndex } from '../../src/maintenance/repair-index.js';
import { repairPacks } from '../../src/maintenance/repair-packs.js';
import { repairSnapshots } from '../../src/maintenance/repair-snapshots.js';
import { Repository } from '../../src/repository/repository.js';
import { CHEAP_TEST_SCRYPT } from '../../src/crypto/kdf.js';
import { listSnapshots } from '../../src/snapshot/snapshot.js';
import { PASSWORD, tempDir } from '../helpers/repo.js';
import { generateTree } from '../helpers/tree-gen.js';

let src: string;
beforeAll(() => {
  src = tempDir();
  generateTree(path.join(src, 'data'), { seed: 5, maxChunk: 1 << 20, maxEntries: 7 });
});
afterAll(() => fs.rmSync(src, { recursive: true, force: true }));

async function backedUp(): Promise<MemoryBackend> {
  const backend = new MemoryBackend();
  const repo = await Repository.init(backend, PASSWORD, {
    kdf: CHEAP_TEST_SCRYPT,
    chunker: { algorithm: 'fastcdc-ronomon', min: 64 * 1024, avg: 256 * 1024, max: 1 << 20 },
    packSize: 4 << 20,
  });
  await backupPaths(repo, [path.join(src, 'data')]);
  return backend;
}
const open = (b: MemoryBackend, skipIndex = false) => Repository.open(b, PASSWORD, { skipIndex });
const check = async (b: MemoryBackend, readData = true) => checkRepository(await open(b, true), { readData });

describe('repair index', () => {
  it('rebuilds a lost index from pack headers', async () => {
    const backend = await backedUp();
    const before = (await open(backend)).index.size;
    for (const name of await (await open(backend, true)).listNames('index'))
      await backend.remove({ type: 'index', name });
    expect((await check(backend, false)).ok).toBe(false);
    const r = await repairIndex(await open(backend, true));
    expect(r.blobs).toBe(before);
    expect(r.packsReadFromStorage).toBe(r.packs);
    const after = await check(backend);
    expect(after.problems).toEqual([]);
  });

  it('replaces a damaged index file and adopts unindexed packs', async () => {
    const backend = await backedUp();
    const repo = await open(backend);
    await repo.saveBlob('data', Buffer.from('from an interrupted backup'));
    await (repo as any).packer.flush();
    const [idx] = await repo.listNames('index');
    const b = await backend.load({ type: 'index', name: idx });
    b[10] ^= 1;
    await backend.save({ type: 'index', name: idx }, b);
    await repairIndex(await open(backend, true), { readAllPacks: true });
    const r = await check(backend);
    expect(r.problems).toEqual([]);
    expect(r.notes.filter((n) => n.kind === 'unreferenced-pack')).toEqual([]);
  });
});

describe('repair packs and snapshots', () => {
  it('salvages readable blobs, drops damaged ones, and rewrites snapshots so check passes', async () => {
    const backend = await backedUp();
    const repo = await open(backend);
    const dataPacks = [...new Set([...repo.index.entries()].filter((e) => e.type === 'data').map((e) => e.pack))];
    const victim = dataPacks[0];
    const entries = [...repo.index.entries()].filter((e) => e.pack === victim).sort((a, b) => a.offset - b.offset);
    const bytes = await backend.load({ type: 'data', name: victim });
    bytes[entries[0].offset + 50] ^= 0x10; // destroy exactly one blob
    await backend.save({ type: 'data', name: victim }, bytes);

    const damaged = await check(backend);
    expect(damaged.problems.some((p) => p.kind === 'blob' && p.pack === victim)).toBe(true);
    const affectedPaths = new Set(damaged.affected.map((a) => a.path));
    expect(affectedPaths.size).toBeGreaterThan(0);

    const rp = await repairPacks(await open(backend), await open(backend, true), [victim]);
    expect(rp.packs[0]).toMatchObject({ salvaged: entries.length - 1, lost: 1 });
    const rs = await repairSnapshots(await open(backend), { forget: true });
    expect(rs.repaired).toHaveLength(1);
    expect(rs.repaired[0].changes.map((c) => c.path.slice(1)).sort()).toEqual([...affectedPaths].sort());

    const after = await check(backend);
    expect(after.problems).toEqual([]);
    const sns = await listSnapshots(await open(backend));
    expect(sns).toHaveLength(1);
    expect(sns[0].tags).toContain('repaired');
  });

  it('dry runs change nothing', async () => {
    const backend = await backedUp();
    const repo = await open(backend);
    const pack = [...repo.index.entries()].find((e) => e.type === 'data')!.pack;
    await backend.remove({ type: 'data', name: pack });
    const r = await repairSnapshots(await open(backend), { dryRun: true });
    expect(r.repaired.length).toBe(1);
    expect(r.repaired[0].repaired).toBeUndefined();
    expect((await listSnapshots(await open(backend))).length).toBe(1);
  });
});

describe('repair never gives up what is only unreadable', () => {
  it('repair snapshots reports a damaged snapshot file and removes it only with forget', async () => {
    const backend = await backedUp();
    const [sn] = await (await open(backend, true)).listNames('snapshots');
    const bytes = await backend.load({ type: 'snapshots', name: sn });
    bytes[bytes.length - 20] ^= 4;
    await backend.save({ type: 'snapshots', name: sn }, bytes);

    const dry = await repairSnapshots(await open(backend));
    expect(dry.unreadable.map((u) => u.id)).toEqual([sn]);
    expect(dry.unreadable[0].message).toContain(`snapshots/${sn}`);
    expect(dry.forgotten).toEqual([]);
    expect(await backend.exists({ type: 'snapshots', name: sn })).toBe(true);

    const r = await repairSnapshots(await open(backend), { forget: true });
    expect(r.forgotten).toEqual([sn]);
    expect(await backend.exists({ type: 'snapshots', name: sn })).toBe(false);
    expect((await check(backend)).problems).toEqual([]);
  });

  it('repair index keeps the record of a pack it cannot read (not proven damaged), and drops a damaged one', async () => {
    const backend = await backedUp();
    const before = await open(backend);
    const denied = [...before.index.entries()].find((e) => e.type === 'data')!.pack;
    const damaged = [...before.index.entries()].find((e) => e.type === 'tree')!.pack;
    const load = backend.load.bind(backend);
    backend.load = async (h, o) => {
      if (h.type === 'data' && h.name === denied)
        throw new BackendError(`permission denied: cannot load data/${denied}`, { file: `data/${denied}` });
      return load(h, o);
    };
    const bytes = await load({ type: 'data', name: damaged });
    bytes.fill(0, bytes.length - 60); // the header of this one is destroyed
    await backend.save({ type: 'data', name: damaged }, bytes);

    const r = await repairIndex(await open(backend, true), { readAllPacks: true });
    expect(r.unreadablePacks.map((u) => [u.pack, u.kept]).sort()).toEqual(
      [
        [damaged, false],
        [denied, true],
      ].sort(),
    );
    const after = await open(backend);
    expect(after.index.hasPack(denied)).toBe(true);
    expect(after.index.hasPack(damaged)).toBe(false);
  });
});
