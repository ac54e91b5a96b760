// Lazy reads of a file's content by byte range through the bounded blob cache, against a real repository on
// the memory backend: every range matches the file's bytes and the cache never holds more than its bound.
import { describe, expect, it } from 'vitest';
import { idToHex } from '../../src/core/id.js';
import { BlobCache, FileContent } from '../../src/mount/blob-cache.js';
import { memoryRepo, prng, randomBuffer } from '../helpers/repo.js';

describe('FileContent over BlobCache', () => {
  it('reads any range of a 40-blob file with at most the bound cached', async () => {
    const { repo } = await memoryRepo({ compression: 'off' });
    const rand = prng(5);
    const blobs = Array.from({ length: 40 }, () => randomBuffer(rand, 1 + Math.floor(rand() * 200_000)));
    const content: string[] = [];
    for (const b of blobs) content.push(idToHex((await repo.saveBlob('data', b)).id));
    await repo.flush();
    const whole = Buffer.concat(blobs);
    const cache = new BlobCache(repo, 600_000);
    const file = FileContent.open(repo, content, cache);
    expect(file.length).toBe(whole.length);

    let seen = 0;
    for (let at = 0; at < whole.length; at += 131072) {
      const got = await file.read(at, 131072);
      expect(got.equals(whole.subarray(at, at + 131072))).toBe(true);
      seen = Math.max(seen, cache.size);
    }
    for (let i = 0; i < 200; i++) {
      const at = Math.floor(rand() * whole.length);
      const len = Math.floor(rand() * 700_000);
      expect((await file.read(at, len)).equals(whole.subarray(at, at + len))).toBe(true);
      seen = Math.max(seen, cache.size);
    }
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThanOrEqual(cache.maxBytes);
    expect((await file.read(whole.length, 10)).length).toBe(0);
  });

  it('names a blob the index lacks when the file is opened', async () => {
    const { repo } = await memoryRepo();
    const cache = new BlobCache(repo, 1 << 20);
    expect(() => FileContent.open(repo, ['ab'.repeat(32)], cache)).toThrow(/abab.* is not in the index/);
  });
});
