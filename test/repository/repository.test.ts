import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backend/memory.js';
import { isRepoError } from '../../src/core/errors.js';
import { CHEAP_TEST_SCRYPT } from '../../src/crypto/kdf.js';
import { MasterIndex } from '../../src/repository/master-index.js';
import { Repository } from '../../src/repository/repository.js';
import { decodeIndex, decodeIndexRecords, encodeIndex } from '../../src/repository/index-file.js';
import { assemblePack, headerLengthFromTrailer, parsePackHeader } from '../../src/repository/pack.js';
import { Compression, ENTRY_SIZE, readEntry, type BlobEntry } from '../../src/repository/blob.js';
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

describe('index records', () => {
  // Loading goes through decodeIndexRecords and MasterIndex.addRecords (no object per blob); they must
  // accept, reject and index exactly what decodeIndex and MasterIndex.add do.
  const entry = (rand: () => number, ids: Buffer[]): BlobEntry => ({
    type: rand() < 0.2 ? 'tree' : 'data',
    // Some ids repeat: the same blob twice in a pack (ignored) and in several packs (kept as duplicates).
    id: ids.length > 0 && rand() < 0.1 ? ids[Math.floor(rand() * ids.length)] : randomBuffer(rand, 32),
    compression: rand() < 0.5 ? Compression.Zstd : Compression.None,
    offset: Math.floor(rand() * 2 ** 32),
    storedLength: Math.floor(rand() * 2 ** 32),
    rawLength: Math.floor(rand() * 2 ** 32),
  });

  it('index the same locations as add() over random files with repeated ids', () => {
    for (const seed of [1, 2, 3]) {
      const rand = prng(seed);
      const ids: Buffer[] = [];
      const packs = Array.from({ length: 1 + Math.floor(rand() * 6) }, (_, p) => ({
        pack: (p + 10).toString(16).repeat(64),
        blobs: Array.from({ length: Math.floor(rand() * 3000) }, () => {
          const e = entry(rand, ids);
          ids.push(e.id);
          return e;
        }),
      }));
      const file = encodeIndex({ supersedes: [], packs });
      const byObjects = new MasterIndex();
      for (const p of decodeIndex(file, 'x').packs) for (const b of p.blobs) byObjects.add(p.pack, b);
      const byRecords = new MasterIndex();
      for (const p of decodeIndexRecords(file, 'x').packs) byRecords.addRecords(p.pack, p.records);
      expect(byRecords.size).toBe(byObjects.size);
      expect([...byRecords.entries()]).toEqual([...byObjects.entries()]);
      for (const id of ids.slice(0, 500))
        for (const type of ['data', 'tree'] as const)
          expect(byRecords.lookupAll(type, id)).toEqual(byObjects.lookupAll(type, id));
    }
  });

  it('duplicates() names each blob held by several packs once, where lookupAll lists it first', () => {
    for (const seed of [4, 5]) {
      const rand = prng(seed);
      const ids: Buffer[] = [];
      const idx = new MasterIndex();
      for (let p = 0; p < 5; p++)
        for (let k = 0; k < 2000; k++) {
          const e = entry(rand, ids);
          ids.push(e.id);
          idx.add((p + 10).toString(16).repeat(64), e);
        }
      const expected: string[] = [];
      for (const e of idx.entries()) {
        const all = idx.lookupAll(e.type, e.id);
        if (all.length > 1 && all[0].pack === e.pack) expected.push(`${e.type} ${e.id.toString('hex')} ${all.length}`);
      }
      expect(expected.length).toBeGreaterThan(10);
      expect([...idx.duplicates()].map((d) => `${d.type} ${d.id.toString('hex')} ${d.count}`)).toEqual(expected);
    }
  });

  it('reject every damaged entry that readEntry rejects, with the same message', () => {
    const rand = prng(9);
    const file = encodeIndex({
      supersedes: [],
      packs: [{ pack: 'cd'.repeat(32), blobs: [entry(rand, []), entry(rand, [])] }],
    });
    const second = 8 + 4 + 36 + ENTRY_SIZE; // the second entry of the one pack
    for (const [at, value] of [
      [second, 2], // blob type
      [second + 1, 7], // compression
      [second + 2, 1], // reserved
      [second + 3, 1], // reserved
    ]) {
      const bad = Buffer.from(file);
      bad[at] = value;
      const expected = (() => {
        try {
          readEntry(bad, second, {});
        } catch (err) {
          return (err as Error).message;
        }
        throw new Error('readEntry accepted a damaged entry');
      })();
      expect(() => decodeIndexRecords(bad, 'x')).toThrow(expected);
      expect(() => decodeIndex(bad, 'x')).toThrow(expected);
    }
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
