// Streamed data packs (repository/pack-stream.ts): the bytes that reach storage are a valid pack named by its
// hash, blob order is a shuffle, every write but the last is one write unit (no blob boundary shows), and an
// aborted pack leaves nothing behind.
import { describe, expect, it } from 'vitest';
import type { Handle, Upload } from '../../src/backend/backend.js';
import { MemoryBackend } from '../../src/backend/memory.js';
import { blake3 } from '../../src/crypto/blake3.js';
import { Compression } from '../../src/repository/blob.js';
import { MasterKey } from '../../src/repository/master-key.js';
import { headerLengthFromTrailer, parsePackHeader, type SealedBlob } from '../../src/repository/pack.js';
import { PackStream, SHUFFLE_WINDOW_BYTES, WRITE_UNIT } from '../../src/repository/pack-stream.js';
import { Packer } from '../../src/repository/packer.js';
import { prng, randomBuffer } from '../helpers/repo.js';

/** An Upload that records every write's size and the committed bytes. */
class RecordingUpload implements Upload {
  writes: number[] = [];
  bytes: Buffer[] = [];
  committed: Handle | undefined;
  aborted = false;
  async write(part: Uint8Array): Promise<void> {
    this.writes.push(part.byteLength);
    this.bytes.push(Buffer.from(part));
  }
  async commit(h: Handle): Promise<void> {
    this.committed = h;
  }
  async abort(): Promise<void> {
    this.aborted = true;
  }
}

function blobs(key: MasterKey, sizes: number[], seed: number): SealedBlob[] {
  const rand = prng(seed);
  return sizes.map((n, i) => {
    const plain = randomBuffer(rand, n);
    return {
      type: 'data',
      id: blake3(Buffer.concat([plain, Buffer.from([i])])),
      compression: Compression.None,
      rawLength: n,
      sealed: key.encryption.seal(plain, Buffer.from('blob')),
    };
  });
}

describe('streamed packs', () => {
  it('store a valid pack under its hash, in shuffled order, in whole write units', async () => {
    const key = MasterKey.generate();
    const rand = prng(7);
    const sizes = Array.from({ length: 300 }, () => 1 + Math.floor(rand() * 60_000));
    const input = blobs(key, sizes, 3);
    const upload = new RecordingUpload();
    const s = new PackStream(upload, key.encryption);
    for (const b of input) await s.add(b);
    const packed = await s.finish();

    const bytes = Buffer.concat(upload.bytes);
    expect(packed.length).toBe(bytes.length);
    expect(upload.committed).toEqual({ type: 'data', name: blake3(bytes).toString('hex') });
    expect(packed.id).toBe(upload.committed!.name);
    expect(upload.writes.slice(0, -1).every((n) => n === WRITE_UNIT)).toBe(true);

    const hlen = headerLengthFromTrailer(bytes.subarray(bytes.length - 4), bytes.length, 'p');
    const entries = parsePackHeader(
      bytes.subarray(bytes.length - 4 - hlen, bytes.length - 4),
      bytes.length,
      key.encryption,
      'p',
    );
    expect(entries).toEqual(packed.entries);
    expect(entries).toHaveLength(input.length);
    for (const e of entries) {
      const b = input.find((x) => x.id.equals(e.id))!;
      expect(bytes.subarray(e.offset, e.offset + e.storedLength).equals(b.sealed)).toBe(true);
    }
    // Shuffled: the stored order is not the arrival order (300 blobs over a 4 MiB window: the chance that a
    // random pick reproduces it is nil), yet no blob moves further than the window allows.
    const order = entries.map((e) => input.findIndex((x) => x.id.equals(e.id)));
    expect(order).not.toEqual([...order].sort((a, b) => a - b));
    const windowBlobs = Math.ceil(SHUFFLE_WINDOW_BYTES / Math.min(...input.map((b) => b.sealed.length)));
    order.forEach((arrived, storedAt) => expect(arrived).toBeLessThanOrEqual(storedAt + windowBlobs + 1));
  });

  it('abort discards the upload', async () => {
    const key = MasterKey.generate();
    const upload = new RecordingUpload();
    const s = new PackStream(upload, key.encryption);
    for (const b of blobs(key, [10, 20], 1)) await s.add(b);
    await s.abort();
    expect(upload.aborted).toBe(true);
    expect(upload.committed).toBeUndefined();
  });

  it('the packer streams data packs and reports each one after it is stored', async () => {
    const key = MasterKey.generate();
    const backend = new MemoryBackend();
    const stored: { pack: string; n: number }[] = [];
    const packer = new Packer(backend, key.encryption, 4 * 1024 * 1024, (rec) =>
      stored.push({ pack: rec.pack, n: rec.blobs.length }),
    );
    const input = blobs(
      key,
      Array.from({ length: 200 }, () => 100_000),
      9,
    );
    // Concurrent adds, as the archiver makes them: they must not open two packs for one or lose a blob.
    await Promise.all(input.map((b) => packer.add(b)));
    await packer.flush();
    expect(stored.reduce((n, s) => n + s.n, 0)).toBe(200);
    expect(stored.length).toBeGreaterThanOrEqual(4);
    for (const s of stored) {
      const bytes = await backend.load({ type: 'data', name: s.pack });
      expect(blake3(bytes).toString('hex')).toBe(s.pack);
    }
    const names: string[] = [];
    for await (const f of backend.list('data')) names.push(f.name);
    expect(names.sort()).toEqual(stored.map((s) => s.pack).sort());
  });

  it('a drained packer drops the open pack and stores nothing half-made', async () => {
    const key = MasterKey.generate();
    const backend = new MemoryBackend();
    const packer = new Packer(backend, key.encryption, 64 * 1024 * 1024, () => undefined);
    for (const b of blobs(key, [1000, 2000, 3000], 2)) await packer.add(b);
    await packer.drain();
    const names: string[] = [];
    for await (const f of backend.list('data')) names.push(f.name);
    expect(names).toEqual([]);
  });
});
