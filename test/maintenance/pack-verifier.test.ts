// PackVerifier must judge every blob exactly as openSealedBlob does (the path every other reader takes),
// with the same message, whatever is damaged and in whatever order packs and blobs come through its reused
// buffers, zstd context and hasher.
import { describe, expect, it } from 'vitest';
import { blobAad } from '../../src/repository/aad.js';
import { Compression, type BlobEntry } from '../../src/repository/blob.js';
import { openSealedBlob } from '../../src/repository/blob-open.js';
import type { MasterKey } from '../../src/repository/master-key.js';
import { PackVerifier } from '../../src/maintenance/pack-verifier.js';
import { memoryRepo, prng, randomBuffer } from '../helpers/repo.js';

/** What the read-data check did before PackVerifier, blob by blob. */
function reference(
  key: MasterKey,
  pack: string,
  bytes: Buffer,
  entries: BlobEntry[],
): { at: number; message: string }[] {
  const out: { at: number; message: string }[] = [];
  entries.forEach((e, at) => {
    try {
      if (e.offset + e.storedLength > bytes.length) throw new Error('blob lies beyond the end of the pack');
      openSealedBlob(key, { ...e, pack }, bytes.subarray(e.offset, e.offset + e.storedLength));
    } catch (err) {
      out.push({ at, message: (err as Error).message });
    }
  });
  return out;
}

/** Text that zstd shrinks to about half: random letters from a 16-letter alphabet. */
function text(n: number, seed: number): Buffer {
  const rand = prng(seed);
  return Buffer.from(Array.from({ length: n }, () => 97 + Math.floor(rand() * 16)));
}

/** A pack of every kind of blob: tiny, empty, compressed or stored over several 64 KiB decrypt slices, trees. */
async function packWithEverything(): Promise<{ key: MasterKey; pack: string; bytes: Buffer; entries: BlobEntry[] }> {
  // Format 1: its packs hold raw (Compression.None) blobs as well as zstd ones; format 2's are all zstd.
  const { repo, backend } = await memoryRepo({ format: 1, workers: 0 });
  const rand = prng(7);
  const plains = [
    Buffer.alloc(0),
    Buffer.from('x'),
    text(3000, 3),
    text(600_000, 5),
    randomBuffer(rand, 200_000),
    randomBuffer(rand, 64 * 1024),
    text(64 * 1024 + 1, 11),
  ];
  for (const p of plains) await repo.saveBlob('data', p);
  await repo.saveBlob('tree', Buffer.from(JSON.stringify({ nodes: [{ name: 'a', type: 'file' }] })));
  await repo.flush();
  // Trees go to packs of their own: the pack bytes are laid end to end, as one pack would hold them.
  const parts: Buffer[] = [];
  const entries: BlobEntry[] = [];
  let base = 0;
  for (const name of new Set([...repo.index.entries()].map((e) => e.pack))) {
    const bytes = await backend.load({ type: 'data', name });
    for (const { pack: _, ...e } of repo.index.entries())
      if (_ === name) entries.push({ ...e, offset: base + e.offset });
    parts.push(bytes);
    base += bytes.length;
  }
  expect(entries.some((e) => e.type === 'tree')).toBe(true);
  expect(entries.some((e) => e.compression === Compression.None && e.rawLength > 3 * 64 * 1024)).toBe(true);
  expect(entries.some((e) => e.compression === Compression.Zstd && e.storedLength > 3 * 64 * 1024)).toBe(true);
  return { key: repo.key, pack: 'cd'.repeat(32), bytes: Buffer.concat(parts), entries };
}

describe('PackVerifier', () => {
  it('passes every healthy blob, pack after pack through the same buffers', async () => {
    const { key, pack, bytes, entries } = await packWithEverything();
    const v = new PackVerifier(key);
    for (let i = 0; i < 3; i++) expect(v.verifyBlobs(pack, bytes, entries)).toEqual([]);
    expect(v.verifyBlobs(pack, bytes, [...entries].reverse())).toEqual([]);
  });

  it('finds every flipped byte that openSealedBlob finds, with the same message', async () => {
    const { key, pack, bytes, entries } = await packWithEverything();
    const v = new PackVerifier(key);
    const rand = prng(99);
    // Every blob's nonce, tag and first and last ciphertext bytes, and random places in between.
    const spots = entries.flatMap((e) => [
      e.offset,
      e.offset + 12,
      e.offset + 23,
      e.offset + 24,
      e.offset + e.storedLength - 17,
      e.offset + e.storedLength - 1,
    ]);
    for (let i = 0; i < 150; i++) {
      const e = entries[Math.floor(rand() * entries.length)];
      spots.push(e.offset + Math.floor(rand() * e.storedLength));
    }
    let found = 0;
    for (const at of spots) {
      const damaged = Buffer.from(bytes);
      damaged[at] ^= 1 << Math.floor(rand() * 8);
      const want = reference(key, pack, damaged, entries);
      expect(want.length).toBe(1);
      expect(v.verifyBlobs(pack, damaged, entries)).toEqual(want);
      found += want.length;
      // A healthy pack right after a damaged one: nothing of the failure stays behind.
      expect(v.verifyBlobs(pack, bytes, entries)).toEqual([]);
    }
    expect(found).toBe(spots.length);
  });

  it('judges wrong entries (type, compression, lengths, offsets, id) as openSealedBlob does', async () => {
    const { key, pack, bytes, entries } = await packWithEverything();
    const v = new PackVerifier(key);
    const mutations: ((e: BlobEntry) => BlobEntry)[] = [
      (e) => ({ ...e, type: e.type === 'data' ? 'tree' : 'data' }),
      (e) => ({ ...e, compression: e.compression === Compression.None ? Compression.Zstd : Compression.None }),
      (e) => ({ ...e, rawLength: e.rawLength + 1 }),
      (e) => ({ ...e, rawLength: Math.max(0, e.rawLength - 1) }),
      (e) => ({ ...e, storedLength: e.storedLength - 1 }),
      (e) => ({ ...e, storedLength: 39 }),
      (e) => ({ ...e, offset: e.offset + 1 }),
      (e) => ({ ...e, offset: bytes.length - 10 }),
      (e) => ({ ...e, id: Buffer.from(e.id).fill(7, 0, 1) }),
    ];
    for (const mutate of mutations) {
      for (let i = 0; i < entries.length; i++) {
        const changed = entries.map((e, j) => (j === i ? mutate(e) : e));
        expect(v.verifyBlobs(pack, bytes, changed)).toEqual(reference(key, pack, bytes, changed));
      }
    }
  });

  it('reports a blob that authenticates but does not hash to its id', async () => {
    const { repo } = await memoryRepo({ workers: 0 });
    const id = repo.key.blobId(Buffer.from('the real content'));
    const sealed = repo.key.encryption.seal(Buffer.from('other content'), blobAad('data', id));
    const entries: BlobEntry[] = [
      { type: 'data', id, compression: Compression.None, offset: 0, storedLength: sealed.length, rawLength: 13 },
    ];
    const got = new PackVerifier(repo.key).verifyBlobs('ab'.repeat(32), sealed, entries);
    expect(got).toEqual(reference(repo.key, 'ab'.repeat(32), sealed, entries));
    expect(got[0].message).toMatch(/does not match its id$/);
  });
});
