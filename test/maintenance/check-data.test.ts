// `check --read-data` reads a local repository's packs on its verify threads (pulling from a shared list)
// and other backends' packs on the main thread: both ways, with 0, 1 or 2 threads, must find the same.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupPaths } from '../../src/archiver/index.js';
import type { Backend } from '../../src/backend/backend.js';
import { LocalBackend } from '../../src/backend/local.js';
import { MemoryBackend } from '../../src/backend/memory.js';
import { checkRepository, type CheckReport } from '../../src/maintenance/check.js';
import { PackFiles } from '../../src/maintenance/pack-read.js';
import { PackStreamer } from '../../src/maintenance/pack-stream.js';
import { PackVerifier } from '../../src/maintenance/pack-verifier.js';
import { indexMismatches, verifyPack, writeEntries } from '../../src/maintenance/verify-pack.js';
import { Compression, ENTRY_SIZE, type BlobEntry } from '../../src/repository/blob.js';
import { Repository } from '../../src/repository/repository.js';
import { localRepo, PASSWORD, prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { generateTree } from '../helpers/tree-gen.js';

let src: string;
let dirs: string[] = [];
beforeAll(() => {
  src = tempDir();
  generateTree(path.join(src, 'data'), { seed: 23, maxChunk: 1 << 20, maxEntries: 6 });
  // Enough incompressible data for several 4 MiB packs.
  const rand = prng(5);
  for (let i = 0; i < 3; i++) fs.writeFileSync(path.join(src, 'data', `big-${i}`), randomBuffer(rand, 3 << 20));
});
afterAll(() => {
  for (const d of [src, ...dirs]) fs.rmSync(d, { recursive: true, force: true });
});

/** A local repository with a damaged blob in one data pack and a damaged header in another, and a copy in memory. */
async function damaged(): Promise<{ local: string; memory: MemoryBackend; blobPack: string; headerPack: string }> {
  const dir = tempDir();
  dirs.push(dir);
  const repo = await localRepo(dir, {
    chunker: { algorithm: 'fastcdc-ronomon', min: 64 * 1024, avg: 256 * 1024, max: 1 << 20 },
    packSize: 4 << 20,
    workers: 0,
  });
  await backupPaths(repo, [path.join(src, 'data')]);
  const dataPacks = new Map<string, BlobEntry[]>();
  for (const e of repo.index.entries())
    if (e.type === 'data') dataPacks.set(e.pack, [...(dataPacks.get(e.pack) ?? []), e]);
  const [blobPack, headerPack] = [...dataPacks.keys()];
  expect(headerPack).toBeDefined();
  const file = (p: string) => path.join(dir, 'data', p.slice(0, 2), p);
  const a = fs.readFileSync(file(blobPack));
  const victim =
    dataPacks.get(blobPack)!.find((e) => e.compression === Compression.Zstd) ?? dataPacks.get(blobPack)![0];
  a[victim.offset + Math.floor(victim.storedLength / 2)] ^= 0x10;
  fs.writeFileSync(file(blobPack), a);
  const b = fs.readFileSync(file(headerPack));
  b[b.length - 30] ^= 0x01; // inside the sealed header's tag
  fs.writeFileSync(file(headerPack), b);
  const memory = new MemoryBackend();
  const walk = async (rel: string): Promise<void> => {
    for (const d of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel === '' ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) await walk(r);
      else if (r === 'config')
        await memory.save({ type: 'config', name: 'config' }, fs.readFileSync(path.join(dir, r)));
      else await memory.save({ type: r.split('/')[0] as 'data', name: d.name }, fs.readFileSync(path.join(dir, r)));
    }
  };
  await walk('');
  return { local: dir, memory, blobPack, headerPack };
}

// Findings come in the same order whatever order the threads finish packs in.
function summary(r: CheckReport) {
  const { seconds: _s, bytesPerSecond: _b, estimatedRestoreSeconds: _e, ...read } = r.readData!;
  return { ok: r.ok, problems: r.problems, affected: r.affected, read };
}

describe('check --read-data', () => {
  it('finds the same damage reading in worker threads or on the main thread, with 0, 1 or 2 threads', async () => {
    const { local, memory, blobPack, headerPack } = await damaged();
    const backends: [string, () => Promise<Backend>][] = [
      ['local', () => LocalBackend.open(local)],
      ['memory', async () => memory],
    ];
    const results: ReturnType<typeof summary>[] = [];
    for (const [, open] of backends) {
      for (const workers of [0, 1, 2]) {
        const repo = await Repository.open(await open(), PASSWORD, { skipIndex: true, workers: 0 });
        results.push(summary(await checkRepository(repo, { readData: true, workers })));
      }
    }
    const [first] = results;
    expect(first.ok).toBe(false);
    const kinds = first.problems.map((p) => `${p.kind}:${p.pack}`);
    expect(kinds).toContain(`blob:${blobPack}`);
    expect(kinds).toContain(`pack-hash:${blobPack}`);
    expect(kinds).toContain(`pack-header:${headerPack}`);
    expect(kinds).toContain(`pack-hash:${headerPack}`);
    expect(first.affected.length).toBeGreaterThan(0);
    for (const r of results) expect(r).toEqual(first);
  });

  it('reports an unreadable pack file as LocalBackend.load would', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const pack = 'ab'.repeat(32);
    const err = await (
      await LocalBackend.open(await localRepo(dir).then(() => dir))
    )
      .load({ type: 'data', name: pack })
      .catch((e: Error) => e);
    expect(() => new PackFiles(dir).read(pack)).toThrow((err as Error).message);
  });
});

describe('PackStreamer', () => {
  it('finds what verifyPack finds on the whole pack, wherever a pack file is damaged', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const repo = await localRepo(dir, {
      chunker: { algorithm: 'fastcdc-ronomon', min: 1 << 20, avg: 3 << 19, max: 2 << 20 },
      packSize: 4 << 20,
      workers: 0,
    });
    await backupPaths(repo, [path.join(src, 'data')]);
    const byPack = new Map<string, BlobEntry[]>();
    for (const e of repo.index.entries()) byPack.set(e.pack, [...(byPack.get(e.pack) ?? []), e]);
    // Blobs larger than the 1 MiB read window, so it has to grow and carry blobs across reads.
    expect([...repo.index.entries()].some((e) => e.storedLength > 1 << 20)).toBe(true);
    const verifier = new PackVerifier(repo.key);
    const streamer = new PackStreamer(dir, verifier);
    const rand = prng(31);
    for (const [pack, entries] of byPack) {
      const records = Buffer.alloc(entries.length * ENTRY_SIZE);
      writeEntries(records, 0, entries);
      const file = path.join(dir, 'data', pack.slice(0, 2), pack);
      const healthy = fs.readFileSync(file);
      expect(streamer.verify(3, pack, records)).toEqual(verifyPack(verifier, 3, pack, healthy, records));
      for (let i = 0; i < 12; i++) {
        const bytes = Buffer.from(healthy);
        // Mostly blob bytes, sometimes the header, the trailer, or a truncated file.
        const at = i === 0 ? bytes.length - 1 : i === 1 ? bytes.length - 30 : Math.floor(rand() * bytes.length);
        bytes[at] ^= 1 << Math.floor(rand() * 8);
        const damaged = i === 2 ? bytes.subarray(0, Math.floor(bytes.length / 2)) : bytes;
        fs.writeFileSync(file, damaged);
        const got = streamer.verify(3, pack, records);
        expect(got).toEqual(verifyPack(verifier, 3, pack, damaged, records));
        expect(got.hashOk).toBe(false);
      }
      fs.writeFileSync(file, healthy);
    }
    fs.rmSync(path.join(dir, 'data', [...byPack.keys()][0].slice(0, 2), [...byPack.keys()][0]));
    const missing = streamer.verify(0, [...byPack.keys()][0], Buffer.alloc(0));
    expect(missing.readError).toMatch(/not found$/);
  });
});

describe('indexMismatches', () => {
  const id = (n: number) => Buffer.alloc(32, n);
  const e = (n: number, offset: number, type: BlobEntry['type'] = 'data'): BlobEntry => ({
    type,
    id: id(n),
    compression: Compression.Zstd,
    offset,
    storedLength: 100,
    rawLength: 200,
  });

  it('names the index entries the header does not list at the same place, in index order', () => {
    const header = [e(1, 0), e(2, 100), e(3, 200, 'tree')];
    expect(indexMismatches(header, header)).toEqual([]);
    expect(indexMismatches([...header].reverse(), header)).toEqual([]);
    const index = [
      e(1, 0),
      e(2, 150),
      e(3, 200),
      e(4, 300),
      { ...e(1, 0), rawLength: 1 },
      { ...e(3, 200, 'tree'), compression: Compression.None },
    ];
    expect(indexMismatches(index, header)).toEqual([1, 2, 3, 4, 5]);
    // A header listing one blob twice is judged by its last listing.
    expect(indexMismatches([e(1, 0)], [e(1, 0), e(1, 100)])).toEqual([0]);
  });
});
