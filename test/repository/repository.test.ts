import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backend/memory.js';
import { isRepoError } from '../../src/core/errors.js';
import { CHEAP_TEST_SCRYPT } from '../../src/crypto/kdf.js';
import { MasterIndex } from '../../src/repository/master-index.js';
import { Repository } from '../../src/repository/repository.js';
import { decodeIndex, encodeIndex } from '../../src/repository/index-file.js';
import { assemblePack, headerLengthFromTrailer, parsePackHeader } from '../../src/repository/pack.js';
import { Compression, type BlobEntry } from '../../src/repository/blob.js';
import { MasterKey } from '../../src/repository/master-key.js';
import { SEAL_OVERHEAD } from '../../src/crypto/xaes.js';
import { padme } from '../../src/repository/blob-padding.js';
import { AAD_CONFIG } from '../../src/repository/aad.js';
import { memoryRepo, PASSWORD, prng, randomBuffer } from '../helpers/repo.js';

describe('pack files', () => {
  it('assembles blobs in some order and parses the header back', () => {
    const key = MasterKey.generate();
    const rand = prng(1);
    const blobs = [1, 100, 5000].map((n) => {
      const plain = randomBuffer(rand, n);
      const id = key.blobId(plain);
      return {
        type: 'data' as const,
        id,
        compression: Compression.None,
        rawLength: n,
        sealed: key.encryption.seal(plain, Buffer.from('x')),
      };
    });
    const { parts, entries } = assemblePack(blobs, key.encryption);
    const bytes = Buffer.concat(parts);
    const hlen = headerLengthFromTrailer(bytes.subarray(bytes.length - 4), bytes.length, 'p');
    const parsed = parsePackHeader(
      bytes.subarray(bytes.length - 4 - hlen, bytes.length - 4),
      bytes.length,
      key.encryption,
      'p',
    );
    expect(parsed).toEqual(entries);
    for (const e of parsed) {
      const b = blobs.find((x) => x.id.equals(e.id))!;
      expect(bytes.subarray(e.offset, e.offset + e.storedLength).equals(b.sealed)).toBe(true);
    }
  });

  it('rejects a header whose entries point outside the pack', () => {
    const key = MasterKey.generate();
    const plain = Buffer.from('hello');
    const blob = {
      type: 'data' as const,
      id: key.blobId(plain),
      compression: Compression.None,
      rawLength: 5,
      sealed: key.encryption.seal(plain, Buffer.from('x')),
    };
    const bytes = Buffer.concat(assemblePack([blob], key.encryption).parts);
    const hlen = headerLengthFromTrailer(bytes.subarray(bytes.length - 4), bytes.length, 'p');
    // Claim the pack is shorter than it is: the entry no longer fits.
    expect(() =>
      parsePackHeader(bytes.subarray(bytes.length - 4 - hlen, bytes.length - 4), hlen + 4 + 10, key.encryption, 'p'),
    ).toThrow(/outside/);
  });
});

describe('index files', () => {
  it('round-trips packs, entries and superseded ids', () => {
    const e = (n: number): BlobEntry => ({
      type: n % 2 ? 'tree' : 'data',
      id: Buffer.alloc(32, n),
      compression: n % 3 ? Compression.Zstd : Compression.None,
      offset: n * 10,
      storedLength: 50 + n,
      rawLength: 7 * n,
    });
    const idx = {
      supersedes: ['ab'.repeat(32)],
      packs: [
        { pack: 'cd'.repeat(32), blobs: [e(1), e(2)] },
        { pack: 'ef'.repeat(32), blobs: [e(3)] },
      ],
    };
    expect(decodeIndex(encodeIndex(idx), 'x')).toEqual(idx);
  });

  it('rejects truncated and trailing bytes', () => {
    const buf = encodeIndex({ supersedes: [], packs: [{ pack: 'cd'.repeat(32), blobs: [] }] });
    expect(() => decodeIndex(buf.subarray(0, buf.length - 1), 'x')).toThrow(/truncated/);
    expect(() => decodeIndex(Buffer.concat([buf, Buffer.alloc(1)]), 'x')).toThrow(/trailing/);
  });
});

describe('master index', () => {
  it('finds every one of many blobs, keeps types apart and records duplicates', () => {
    const idx = new MasterIndex();
    const rand = prng(7);
    const ids: Buffer[] = [];
    for (let i = 0; i < 20000; i++) {
      const id = randomBuffer(rand, 32);
      ids.push(id);
      idx.add(`p${i % 13}`, {
        type: 'data',
        id,
        compression: Compression.Zstd,
        offset: i,
        storedLength: i + 40,
        rawLength: i * 2,
      });
    }
    expect(idx.size).toBe(20000);
    for (let i = 0; i < ids.length; i += 97) {
      const e = idx.lookup('data', ids[i])!;
      expect(e.offset).toBe(i);
      expect(e.pack).toBe(`p${i % 13}`);
      expect(idx.has('tree', ids[i])).toBe(false);
    }
    idx.add('other', {
      type: 'data',
      id: ids[0],
      compression: Compression.None,
      offset: 1,
      storedLength: 41,
      rawLength: 1,
    });
    idx.add('other', {
      type: 'data',
      id: ids[0],
      compression: Compression.None,
      offset: 1,
      storedLength: 41,
      rawLength: 1,
    });
    expect(
      idx
        .lookupAll('data', ids[0])
        .map((e) => e.pack)
        .sort(),
    ).toEqual(['other', 'p0']);
    expect(idx.memoryBytes / idx.size).toBeLessThan(120);
  });
});

describe('repository', () => {
  it('stores, dedupes and reloads blobs across open', async () => {
    // Format 1: the raw storage of incompressible blobs checked below is format 1's (format 2 frames and pads them).
    const { repo, backend } = await memoryRepo({ format: 1, packSize: 4 * 1024 * 1024 });
    const rand = prng(3);
    const blobs = [0, 1, 1000, 300_000, 2_000_000, 3_000_000].map((n) => randomBuffer(rand, n));
    blobs.push(Buffer.alloc(1_000_000, 'a')); // compressible
    const ids: Buffer[] = [];
    for (const b of blobs) ids.push((await repo.saveBlob('data', b)).id);
    expect((await repo.saveBlob('data', blobs[2])).known).toBe(true);
    await repo.flush();
    expect(repo.stats.packsWritten).toBeGreaterThanOrEqual(2);
    const again = await Repository.open(backend, PASSWORD);
    for (let i = 0; i < blobs.length; i++) expect((await again.loadBlob('data', ids[i])).equals(blobs[i])).toBe(true);
    const compressible = again.index.lookup('data', ids[ids.length - 1])!;
    expect(compressible.compression).toBe(Compression.Zstd);
    expect(compressible.storedLength).toBeLessThan(10_000);
    expect(again.index.lookup('data', ids[4])!.compression).toBe(Compression.None); // random data is stored as is
  });

  it('format 2 stores every blob zstd-framed and padded to a Padmé class, and reads it back', async () => {
    const { repo, backend } = await memoryRepo({ packSize: 4 * 1024 * 1024 });
    const rand = prng(4);
    const blobs = [0, 1, 1000, 300_000, 2_000_000].map((n) => randomBuffer(rand, n));
    blobs.push(Buffer.alloc(1_000_000, 'a'));
    const ids: Buffer[] = [];
    for (const b of blobs) ids.push((await repo.saveBlob('data', b)).id);
    await repo.flush();
    const again = await Repository.open(backend, PASSWORD);
    for (let i = 0; i < blobs.length; i++) {
      expect((await again.loadBlob('data', ids[i])).equals(blobs[i])).toBe(true);
      const loc = again.index.lookup('data', ids[i])!;
      expect(loc.compression).toBe(Compression.Zstd);
      expect(padme(loc.storedLength - SEAL_OVERHEAD)).toBe(loc.storedLength - SEAL_OVERHEAD);
    }
  });

  it('refuses a wrong password with WRONG_PASSWORD', async () => {
    const { backend } = await memoryRepo();
    await expect(Repository.open(backend, 'nope')).rejects.toSatisfy((e) => isRepoError(e, 'WRONG_PASSWORD'));
  });

  it('refuses init over an existing repository', async () => {
    const { backend } = await memoryRepo();
    await expect(Repository.init(backend, PASSWORD, { kdf: CHEAP_TEST_SCRYPT })).rejects.toSatisfy((e) =>
      isRepoError(e, 'REPO_EXISTS'),
    );
  });

  it('refuses a newer format version, naming it', async () => {
    const { repo, backend } = await memoryRepo();
    const cfg = { ...repo.config, version: 3 };
    await backend.save(
      { type: 'config', name: 'config' },
      repo.key.encryption.seal(Buffer.from(JSON.stringify(cfg)), AAD_CONFIG),
    );
    await expect(Repository.open(backend, PASSWORD)).rejects.toThrow(/version 3 is newer/);
  });

  it('detects a flipped bit in a pack and names the pack, never returning wrong bytes', async () => {
    const { repo, backend } = await memoryRepo();
    const plain = Buffer.from('some secret content '.repeat(100));
    const { id } = await repo.saveBlob('data', plain);
    await repo.flush();
    const loc = repo.index.lookup('data', id)!;
    const h = { type: 'data' as const, name: loc.pack };
    const bytes = await backend.load(h);
    bytes[loc.offset + 30] ^= 1;
    await backend.save(h, bytes);
    const err = await repo.loadBlob('data', id).catch((e) => e);
    expect(isRepoError(err, 'INTEGRITY')).toBe(true);
    expect(err.context.pack).toBe(loc.pack);
    expect(err.message).toContain(loc.pack);
  });

  it('detects a damaged index file by its storage name: skipped with a warning naming it (strict: thrown)', async () => {
    const { repo, backend } = await memoryRepo();
    const { id } = await repo.saveBlob('data', Buffer.from('x'));
    await repo.flush();
    const [name] = await repo.listNames('index');
    const bytes = await backend.load({ type: 'index', name });
    bytes[bytes.length - 1] ^= 0x80;
    await backend.save({ type: 'index', name }, bytes);
    const warnings: string[] = [];
    const opened = await Repository.open(backend, PASSWORD, { onWarning: (m) => warnings.push(m) });
    expect(opened.damagedIndexFiles).toEqual([`index/${name}`]);
    expect(warnings).toEqual([expect.stringContaining(`index/${name} is damaged`)]);
    expect(warnings[0]).toContain('repo repair index');
    const missing = await opened.loadBlob('data', id).catch((e) => e);
    expect(isRepoError(missing, 'NOT_FOUND')).toBe(true);
    expect(missing.message).toContain('repair index');
    const strict = await opened.sibling({ skipIndex: true });
    const err = await strict.loadIndex({ strict: true }).catch((e) => e);
    expect(isRepoError(err, 'INTEGRITY')).toBe(true);
    expect(err.context.file).toBe(`index/${name}`);
  });

  it('stores nothing in plaintext', async () => {
    const backend = new MemoryBackend();
    const repo = await Repository.init(backend, PASSWORD, { kdf: CHEAP_TEST_SCRYPT, compression: 'off' });
    const marker = Buffer.from('DISTINCTIVE-MARKER-3f9a1c');
    await repo.saveBlob('data', Buffer.concat([marker, marker]));
    await repo.flush();
    for (const type of ['config', 'keys', 'data', 'index'] as const) {
      for await (const f of backend.list(type)) {
        const bytes = await backend.load({ type, name: f.name });
        expect(bytes.includes(marker)).toBe(false);
        expect(bytes.includes(Buffer.from(PASSWORD))).toBe(false);
      }
    }
  });
});
