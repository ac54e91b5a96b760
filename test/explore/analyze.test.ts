// analyzePaths on synthetic data: dedupe of a shifted repeated block, one read per file, and estimates that match real backups exactly.
// Exact comparisons use an independent chunk-and-hash reference or the index of a repository after a real backup.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { analyzePaths, CHUNKER_SWEEP } from '../../src/analyze/index.js';
import { fanOut } from '../../src/analyze/fanout.js';
import { backupPaths } from '../../src/archiver/index.js';
import { createChunker, type ChunkerParams } from '../../src/chunker/index.js';
import { blake3 } from '../../src/crypto/blake3.js';
import type { Repository } from '../../src/repository/repository.js';
import { memoryRepo, prng, randomBuffer, tempDir } from '../helpers/repo.js';

const SMALL: ChunkerParams = { algorithm: 'fastcdc-ronomon', min: 16384, avg: 65536, max: 262144 };
const TINY: ChunkerParams = { algorithm: 'fastcdc-ronomon', min: 4096, avg: 16384, max: 65536 };
const BUILT_WORKER = fs.existsSync(fileURLToPath(new URL('../../dist/analyze/worker.js', import.meta.url)));
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function work(): string {
  const d = tempDir('analyze-test-');
  dirs.push(d);
  return d;
}

/** `n` copies of one random block, each preceded by 1-16 random bytes, so every copy starts at a different offset. */
function shiftedCopies(seed: number, block: number, n: number): Buffer {
  const rand = prng(seed);
  const b = randomBuffer(rand, block);
  const parts: Buffer[] = [];
  for (let i = 0; i < n; i++) parts.push(randomBuffer(rand, 1 + Math.floor(rand() * 16)), b);
  return Buffer.concat(parts);
}

/** Distinct chunks of some files as the chunker cuts them, computed independently of the analyzer. */
async function reference(
  files: Buffer[],
  params: ChunkerParams,
): Promise<{ chunks: number; unique: number; uniqueBytes: number }> {
  const chunker = createChunker(params);
  const seen = new Map<string, number>();
  let chunks = 0;
  for (const f of files) {
    const once = (async function* () {
      yield f;
    })();
    for await (const c of chunker.chunks(once)) {
      chunks++;
      seen.set(blake3(c).toString('hex'), c.length);
    }
  }
  return { chunks, unique: seen.size, uniqueBytes: [...seen.values()].reduce((a, b) => a + b, 0) };
}

/** Distinct data blobs in the index (type, count, raw and stored bytes). */
function dataBlobs(repo: Repository): Map<string, { raw: number; stored: number }> {
  const m = new Map<string, { raw: number; stored: number }>();
  for (const e of repo.index.entries())
    if (e.type === 'data') m.set(e.id.toString('hex'), { raw: e.rawLength, stored: e.storedLength });
  return m;
}

function added(
  before: Map<string, { raw: number; stored: number }>,
  after: Map<string, { raw: number; stored: number }>,
) {
  const r = { addedChunks: 0, addedBytes: 0, addedStoredBytes: 0 };
  for (const [id, v] of after) {
    if (before.has(id)) continue;
    r.addedChunks++;
    r.addedBytes += v.raw;
    r.addedStoredBytes += v.stored;
  }
  return r;
}

describe('fanOut', () => {
  it('gives every consumer the same pieces while pulling each from the source once', async () => {
    let pulled = 0;
    async function* src() {
      for (let i = 0; i < 50; i++) {
        pulled++;
        yield Buffer.from([i]);
      }
    }
    const outs = fanOut(src(), 3, 2);
    const got = await Promise.all(
      outs.map(async (o, k) => {
        const seen: number[] = [];
        for await (const p of o) {
          seen.push(p[0]);
          if (k === 0) await new Promise((r) => setImmediate(r)); // a slow consumer holds the others back, not the reverse
        }
        return seen;
      }),
    );
    expect(pulled).toBe(50);
    for (const g of got) expect(g).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('analyzePaths', () => {
  it('finds the dedupe of a block repeated with shifts: about N·|B| / (|B| + (N−1)·avg), within 15%', async () => {
    const dir = work();
    const N = 8;
    const B = 2 * 1024 * 1024;
    const data = shiftedCopies(1, B, N);
    fs.writeFileSync(path.join(dir, 'copies'), data);
    const r = await analyzePaths([dir], { settings: [SMALL], workers: 0, compressionLevel: 3 });
    const s = r.settings[0];
    const expected = (N * B) / (B + (N - 1) * SMALL.avg); // each shifted copy costs about one chunk before the cuts line up again
    expect(s.dedupeRatio).toBeGreaterThan(expected * 0.85);
    expect(s.dedupeRatio).toBeLessThan(expected * 1.15);
    const ref = await reference([data], SMALL);
    expect([s.chunks, s.uniqueChunks, s.uniqueBytes]).toEqual([ref.chunks, ref.unique, ref.uniqueBytes]);
    expect(s.logicalBytes).toBe(data.length);
    expect(s.indexBytes).toBe(57 * ref.unique);
    expect(s.storedBytes).toBeGreaterThanOrEqual(s.uniqueBytes + 40 * ref.unique - 1); // random data does not compress
  });

  it('reads each file once, whatever the number of settings, and a path given twice adds nothing the second time', async () => {
    const dir = work();
    const files = [randomBuffer(prng(2), 700_000), randomBuffer(prng(3), 300_000), Buffer.alloc(50_000, 'abc')];
    files.forEach((f, i) => fs.writeFileSync(path.join(dir, `f${i}`), f));
    const open = vi.spyOn(fs.promises, 'open');
    try {
      const r = await analyzePaths([dir, dir], { settings: [SMALL, TINY, CHUNKER_SWEEP[0]], workers: 0 });
      const opened = open.mock.calls.map((c) => String(c[0]));
      expect(opened.filter((p) => p.startsWith(dir)).sort()).toEqual(files.map((_, i) => path.join(dir, `f${i}`)));
      expect(r.bytesRead).toBe(1_050_000);
      for (const [k, s] of r.settings.entries()) {
        const ref = await reference(files, [SMALL, TINY, CHUNKER_SWEEP[0]][k]);
        expect(s.snapshots.map((p) => [p.files, p.bytes, p.chunks])).toEqual([
          [3, 1_050_000, ref.chunks],
          [3, 1_050_000, ref.chunks],
        ]);
        expect(s.snapshots[0].addedChunks).toBe(ref.unique);
        expect(s.snapshots[1]).toMatchObject({ addedChunks: 0, addedBytes: 0, addedStoredBytes: 0 });
        expect(s.dedupeRatio).toBeCloseTo((2 * 1_050_000) / ref.uniqueBytes, 10);
      }
    } finally {
      open.mockRestore();
    }
  });

  it('estimates exactly what backups into a repository then add (blobs, raw and stored bytes), path by path', async () => {
    const dir = work();
    const rand = prng(4);
    const shared = randomBuffer(rand, 400_000);
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    fs.mkdirSync(a);
    fs.mkdirSync(b);
    fs.writeFileSync(path.join(a, 'one'), Buffer.concat([shared, randomBuffer(rand, 200_000)]));
    fs.writeFileSync(path.join(a, 'text'), Buffer.alloc(300_000, 'compressible line\n'));
    fs.writeFileSync(path.join(b, 'two'), Buffer.concat([randomBuffer(rand, 5), shared, randomBuffer(rand, 100_000)]));
    fs.writeFileSync(path.join(b, 'empty'), '');
    const { repo } = await memoryRepo({ chunker: SMALL, format: 1 });
    await backupPaths(repo, [path.join(dir, 'a')]); // the repository already holds a

    const r = await analyzePaths([b, a], { repo, settings: [TINY], workers: 0 });
    expect(r.settings.map((s) => s.label)).toEqual(['4K/16K/64K', '16K/64K/256K']); // the repository's setting is added
    const c = r.settings[1].repository!;
    expect(r.settings[0].repository).toBeUndefined();
    expect(c.snapshots[1]).toEqual({ addedChunks: 0, addedBytes: 0, addedStoredBytes: 0 }); // a is stored already

    const before = dataBlobs(repo);
    const res = await backupPaths(repo, [b]);
    const actual = added(before, dataBlobs(repo));
    expect(actual.addedChunks).toBeGreaterThan(0);
    expect({ addedChunks: c.addedChunks, addedBytes: c.addedBytes, addedStoredBytes: c.addedStoredBytes }).toEqual(
      actual,
    );
    expect(c.snapshots[0]).toEqual(actual);
    expect(res.snapshot.summary!.data_blobs).toBe(c.addedChunks);
    expect(c.knownChunks).toBe(r.settings[1].uniqueChunks - c.addedChunks);

    // Without a repository, path by path: what the first backup stores, then what the second adds.
    const fresh = await analyzePaths([a, b], { settings: [SMALL], compressionLevel: 3, workers: 0 });
    const { repo: empty } = await memoryRepo({ chunker: SMALL, format: 1 });
    const steps = [];
    for (const p of [a, b]) {
      const was = dataBlobs(empty);
      await backupPaths(empty, [p]);
      steps.push(added(was, dataBlobs(empty)));
    }
    expect(
      fresh.settings[0].snapshots.map((s) => ({
        addedChunks: s.addedChunks,
        addedBytes: s.addedBytes,
        addedStoredBytes: s.addedStoredBytes,
      })),
    ).toEqual(steps);
  });

  it.skipIf(!BUILT_WORKER)('gives the same report on worker threads as on the calling thread', async () => {
    const dir = work();
    for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(dir, `f${i}`), shiftedCopies(10 + (i % 3), 300_000, 3));
    const settings = [SMALL, TINY, CHUNKER_SWEEP[1]];
    const inline = await analyzePaths([dir], { settings, workers: 0 });
    const threaded = await analyzePaths([dir], { settings, workers: 3 });
    expect(threaded.workers).toBe(3);
    expect({ ...threaded, workers: 0 }).toEqual(inline);
  });

  it('warns about paths it cannot read and still reports the rest', async () => {
    const dir = work();
    fs.writeFileSync(path.join(dir, 'ok'), 'hello');
    const r = await analyzePaths([dir, path.join(dir, 'missing')], { workers: 0 });
    expect(r.files).toBe(1);
    expect(r.warnings.map((w) => w.path)).toEqual([path.join(dir, 'missing')]);
    expect(r.settings[0].snapshots[1]).toMatchObject({ files: 0, bytes: 0, chunks: 0 });
  });
});
