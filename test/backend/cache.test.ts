// CacheBackend: the backend contract (conformance over MemoryBackend), and what the cache is for:
// index files, snapshot files and tree packs are fetched once; damaged entries are dropped and fetched
// again; entries of removed files go; data packs, keys, config and locks are never cached.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupPaths, findParent } from '../../src/archiver/index.js';
import { CacheBackend, defaultCacheDir, findCache } from '../../src/backend/cache.js';
import { MemoryBackend } from '../../src/backend/memory.js';
import { openBackend } from '../../src/backend/open.js';
import { RetryBackend } from '../../src/backend/retry.js';
import { LocalBackend } from '../../src/backend/local.js';
import { blake3 } from '../../src/crypto/blake3.js';
import { CHEAP_TEST_SCRYPT } from '../../src/crypto/kdf.js';
import { Repository } from '../../src/repository/repository.js';
import { listSnapshots } from '../../src/snapshot/snapshot.js';
import { loadTree } from '../../src/tree/tree-store.js';
import { CountingBackend } from '../helpers/counting-backend.js';
import { PASSWORD, prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { backendConformance, randomId } from './conformance.js';

const dirs: string[] = [];
function mk(prefix = 'repo-cache-'): string {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const sha256Hex = (parts: readonly Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

// The conformance suite names files by SHA-256 (idOf), so the cache is told to check names that way;
// every data file counts as a tree pack, so ranged loads of data go through the cache's whole-file path.
backendConformance('CacheBackend (attached; every data file a tree pack) over MemoryBackend', async () => {
  const dir = mk('repo-cache-conf-');
  const backend = new CacheBackend(new MemoryBackend(), { dir, storageId: sha256Hex });
  backend.attach(randomId(), () => true);
  return { backend };
});

backendConformance(
  "CacheBackend (attached, BLAKE3 names: the suite's files are never cached) over MemoryBackend",
  async () => {
    const backend = new CacheBackend(new MemoryBackend(), { dir: mk('repo-cache-conf-') });
    backend.attach(randomId(), () => true);
    return { backend };
  },
);

backendConformance('CacheBackend (detached) over MemoryBackend', async () => {
  return { backend: new CacheBackend(new MemoryBackend(), { dir: mk('repo-cache-conf-') }) };
});

const SMALL_CHUNKER = { algorithm: 'fastcdc-ronomon' as const, min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 };

/** A source tree with some files in a few directories. */
function makeSource(seed = 1): string {
  const src = path.join(mk('repo-cache-src-'), 'src');
  const rand = prng(seed);
  for (const d of ['a', 'a/b', 'c']) fs.mkdirSync(path.join(src, d), { recursive: true });
  for (let i = 0; i < 12; i++)
    fs.writeFileSync(path.join(src, ['a', 'a/b', 'c'][i % 3], `f${i}.bin`), randomBuffer(rand, 1000 + i * 20000));
  return src;
}

/** A stack as the CLI has it for a remote repository: storage → counter → cache. */
function stack(storage: MemoryBackend, cacheDir: string): { counting: CountingBackend; cache: CacheBackend } {
  const counting = new CountingBackend(storage);
  return { counting, cache: new CacheBackend(counting, { dir: cacheDir }) };
}

/** Lists all snapshots and walks all their trees, as `snapshots` and `ls` do. */
async function browse(repo: Repository): Promise<number> {
  let nodes = 0;
  const walk = async (id: string): Promise<void> => {
    for (const n of (await loadTree(repo, id)).nodes) {
      nodes++;
      if (n.subtree !== undefined) await walk(n.subtree);
    }
  };
  for (const sn of await listSnapshots(repo)) await walk(sn.tree);
  return nodes;
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

async function repoWithBackup(cacheDir: string): Promise<{ storage: MemoryBackend; repo: Repository; src: string }> {
  const storage = new MemoryBackend();
  const { cache } = stack(storage, cacheDir);
  const repo = await Repository.init(cache, PASSWORD, { kdf: CHEAP_TEST_SCRYPT, chunker: SMALL_CHUNKER, workers: 0 });
  const src = makeSource();
  await backupPaths(repo, [src]);
  return { storage, repo, src };
}

describe('CacheBackend with a repository', () => {
  it('keeps index, snapshot and tree-pack copies written on save: a later process downloads none of them', async () => {
    const cacheDir = mk();
    const { storage, repo } = await repoWithBackup(cacheDir);
    const root = findCache(repo.backend)!.directory!;
    expect(root).toBe(path.join(cacheDir, repo.id));
    const cached = filesUnder(root);
    expect(cached.filter((f) => f.startsWith('index/')).length).toBeGreaterThan(0);
    expect(cached.filter((f) => f.startsWith('snapshots/')).length).toBe(1);
    const treePacks = repo.index.packIds().filter((p) => repo.index.packHoldsTrees(p));
    const dataPacks = repo.index.packIds().filter((p) => !repo.index.packHoldsTrees(p));
    expect(treePacks.length).toBeGreaterThan(0);
    expect(dataPacks.length).toBeGreaterThan(0);
    // Exactly the tree packs, never a data pack; no temporary files left.
    expect(
      cached
        .filter((f) => f.startsWith('data/'))
        .map((f) => path.basename(f))
        .sort(),
    ).toEqual([...treePacks].sort());
    expect(cached.some((f) => path.basename(f).startsWith('.tmp-'))).toBe(false);
    expect(fs.readFileSync(path.join(cacheDir, 'CACHEDIR.TAG'), 'utf8')).toMatch(
      /^Signature: 8a477f597d28d172789f06886806bc55/,
    );
    await repo.close();

    const { counting, cache } = stack(storage, cacheDir);
    const again = await Repository.open(cache, PASSWORD, { workers: 0 });
    expect(await browse(again)).toBeGreaterThan(12);
    expect(counting.get('load', 'index')).toBe(0);
    expect(counting.get('load', 'snapshots')).toBe(0);
    expect(counting.get('load', 'data')).toBe(0);
    expect(cache.stats.misses).toBe(0);
    expect(cache.stats.hits).toBeGreaterThan(0);
    await again.close();
  });

  it('a cold cache fetches each file once (a tree pack whole), then serves it: browsing twice and a parent lookup cost nothing more', async () => {
    const { storage, repo, src } = await repoWithBackup(mk());
    const treePacks = repo.index.packIds().filter((p) => repo.index.packHoldsTrees(p));
    await repo.close();

    const cacheDir = mk();
    const { counting, cache } = stack(storage, cacheDir);
    const cold = await Repository.open(cache, PASSWORD, { workers: 0 });
    const indexFiles = (await cold.listNames('index')).length;
    expect(counting.get('load', 'index')).toBe(indexFiles);
    await browse(cold);
    expect(counting.get('load', 'snapshots')).toBe(1);
    // One whole-file load per tree pack, no ranged reads of them.
    expect(counting.loads.filter((l) => l.type === 'data').map((l) => [l.name, l.ranged])).toEqual(
      treePacks.map((p) => [p, false]),
    );
    counting.reset();
    await browse(cold);
    expect(counting.loads).toEqual([]);

    // An incremental backup of the unchanged tree: parent lookup and its trees come from the cache.
    const parent = await findParent(cold, { hostname: os.hostname(), paths: [path.resolve(src)] });
    expect(parent).toBeDefined();
    const r = await backupPaths(cold, [src], { parent });
    expect(r.snapshot.summary!.files_unmodified).toBe(12);
    expect(counting.loads).toEqual([]);
    await cold.close();

    // And a new process with the warm cache loads nothing either (the new snapshot was written through).
    const warm = stack(storage, cacheDir);
    const repo3 = await Repository.open(warm.cache, PASSWORD, { workers: 0 });
    await browse(repo3);
    expect(warm.counting.loads.map((l) => l.type).sort()).toEqual(['config', 'keys']); // opening: never cached
    await repo3.close();
  });

  it('a damaged cache entry is dropped and fetched again; the repository never sees the damage', async () => {
    const cacheDir = mk();
    const { storage, repo } = await repoWithBackup(cacheDir);
    const root = findCache(repo.backend)!.directory!;
    await repo.close();
    const cached = filesUnder(root);
    const snapFile = path.join(
      root,
      cached.find((f) => f.startsWith('snapshots/'))!,
    );
    const packFile = path.join(
      root,
      cached.find((f) => f.startsWith('data/'))!,
    );
    const indexFile = path.join(
      root,
      cached.find((f) => f.startsWith('index/'))!,
    );
    const flip = (f: string, at: number) => {
      const b = fs.readFileSync(f);
      b[at % b.length] ^= 0x40;
      fs.writeFileSync(f, b);
    };
    flip(snapFile, 100);
    flip(packFile, 10);
    fs.truncateSync(indexFile, 5); // a torn write

    const { counting, cache } = stack(storage, cacheDir);
    const again = await Repository.open(cache, PASSWORD, { workers: 0 });
    await browse(again);
    expect(cache.stats.dropped).toBe(3);
    expect(counting.get('load', 'index')).toBe(1);
    expect(counting.get('load', 'snapshots')).toBe(1);
    expect(counting.loads.filter((l) => l.type === 'data' && l.name === path.basename(packFile))).toHaveLength(1);
    // The entries were replaced with good copies.
    for (const f of [snapFile, packFile, indexFile])
      expect(blake3(fs.readFileSync(f)).toString('hex')).toBe(path.basename(f));
    await again.close();
  });

  it('a file damaged in the repository is passed on (the repository reports it) but never cached', async () => {
    const { storage, repo } = await repoWithBackup(mk());
    const [snap] = await repo.listNames('snapshots');
    await repo.close();
    const bytes = await storage.load({ type: 'snapshots', name: snap });
    bytes[50] ^= 1;
    await storage.save({ type: 'snapshots', name: snap }, bytes);

    const cacheDir = mk();
    const { cache } = stack(storage, cacheDir);
    const again = await Repository.open(cache, PASSWORD, { workers: 0 });
    await expect(listSnapshots(again, { strict: true })).rejects.toMatchObject({ code: 'INTEGRITY' });
    expect(filesUnder(path.join(cacheDir, again.id, 'snapshots'))).toEqual([]);
    await again.close();
  });

  it('entries of files the repository no longer has go: on a complete listing, on remove, and for packs the index dropped', async () => {
    const cacheDir = mk();
    const { storage, repo, src } = await repoWithBackup(cacheDir);
    await backupPaths(repo, [src], { tags: ['second'] });
    const root = findCache(repo.backend)!.directory!;
    await repo.close();
    const snaps = filesUnder(path.join(root, 'snapshots'));
    expect(snaps).toHaveLength(2);
    // Age the entries: entries written while a listing runs are kept.
    const old = new Date(Date.now() - 3 * 3600_000);
    for (const f of filesUnder(root)) fs.utimesSync(path.join(root, f), old, old);

    // Another machine forgets a snapshot: the next listing drops its cached copy.
    await storage.remove({ type: 'snapshots', name: snaps[0] });
    const { cache } = stack(storage, cacheDir);
    const again = await Repository.open(cache, PASSWORD, { workers: 0 });
    expect(await listSnapshots(again)).toHaveLength(1);
    expect(filesUnder(path.join(root, 'snapshots'))).toEqual([snaps[1]]);
    expect(cache.stats.stale).toBe(1);

    // A removal through the cache removes the entry at once.
    await again.backend.remove({ type: 'snapshots', name: snaps[1] });
    expect(filesUnder(path.join(root, 'snapshots'))).toEqual([]);

    // A tree pack the index no longer names (pruned elsewhere) goes with dropPacks; the others stay.
    const fake = randomId();
    fs.mkdirSync(path.join(root, 'data', fake.slice(0, 2)), { recursive: true });
    fs.writeFileSync(path.join(root, 'data', fake.slice(0, 2), fake), 'x');
    fs.utimesSync(path.join(root, 'data', fake.slice(0, 2), fake), old, old);
    const before = filesUnder(path.join(root, 'data')).length;
    await cache.dropPacks((p) => again.index.packHoldsTrees(p));
    expect(filesUnder(path.join(root, 'data')).length).toBe(before - 1);
    expect(fs.existsSync(path.join(root, 'data', fake.slice(0, 2), fake))).toBe(false);
    await again.close();
  });

  it('an unusable cache directory is reported once and everything still works from the repository', async () => {
    const base = mk();
    const blocker = path.join(base, 'not-a-dir');
    fs.writeFileSync(blocker, 'x');
    const warnings: string[] = [];
    const storage = new MemoryBackend();
    const cache = new CacheBackend(new CountingBackend(storage), { dir: blocker, onWarning: (m) => warnings.push(m) });
    const repo = await Repository.init(cache, PASSWORD, { kdf: CHEAP_TEST_SCRYPT, chunker: SMALL_CHUNKER, workers: 0 });
    await backupPaths(repo, [makeSource(2)]);
    expect(await browse(repo)).toBeGreaterThan(0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/local cache: cannot write .*continuing without it/);
    await repo.close();
  });

  it('caches nothing until attached, and only content-named index, snapshot and tree-pack files', async () => {
    const dir = mk();
    const storage = new MemoryBackend();
    const cache = new CacheBackend(storage, { dir });
    const idx = Buffer.from('index bytes');
    const name = blake3(idx).toString('hex');
    await cache.save({ type: 'index', name }, idx);
    expect(filesUnder(dir)).toEqual([]);
    const id = randomId();
    cache.attach(id, (p) => p.startsWith('aa'));
    await cache.save({ type: 'index', name }, idx);
    const key = Buffer.from('key bytes');
    await cache.save({ type: 'keys', name: blake3(key).toString('hex') }, key);
    const data = Buffer.from('data pack');
    const dataName = blake3(data).toString('hex');
    await cache.save({ type: 'data', name: dataName }, data); // no metadata hint: a data pack
    const tree = Buffer.from('tree pack');
    const treeName = blake3(tree).toString('hex');
    await cache.save({ type: 'data', name: treeName }, [tree.subarray(0, 4), tree.subarray(4)], { metadata: true });
    expect(filesUnder(path.join(dir, id)).sort()).toEqual(
      [`data/${treeName.slice(0, 2)}/${treeName}`, `index/${name}`].sort(),
    );
    expect((await cache.load({ type: 'data', name: treeName }, { offset: 5, length: 4 })).toString()).toBe('pack');
  });
});

describe('defaultCacheDir', () => {
  it('REPO_CACHE_DIR, then XDG_CACHE_HOME/repo, then ~/.cache/repo', () => {
    expect(defaultCacheDir({ REPO_CACHE_DIR: '/x/y', XDG_CACHE_HOME: '/xdg', HOME: '/home/u' })).toBe(
      path.resolve('/x/y'),
    );
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/xdg', HOME: '/home/u' })).toBe(path.join('/xdg', 'repo'));
    expect(defaultCacheDir({ XDG_CACHE_HOME: 'relative', HOME: '/home/u' })).toBe(
      path.join('/home/u', '.cache', 'repo'),
    );
    expect(defaultCacheDir({ HOME: '/home/u', REPO_CACHE_DIR: '' })).toBe(path.join('/home/u', '.cache', 'repo'));
  });
});

describe('openBackend and the cache', () => {
  it('local repositories get no cache unless asked; the option wraps them', async () => {
    const dir = mk();
    const repoDir = path.join(dir, 'repo');
    const backend = await LocalBackend.createAt(repoDir);
    await backend.save({ type: 'config', name: 'config' }, Buffer.from('cfg'));
    await backend.close();
    const plain = await openBackend(repoDir, { cache: { dir: path.join(dir, 'cache') } });
    expect(plain).toBeInstanceOf(LocalBackend);
    const cached = await openBackend(repoDir, { cache: { dir: path.join(dir, 'cache'), local: true } });
    expect(cached).toBeInstanceOf(CacheBackend);
    expect(findCache(cached)).toBe(cached);
    expect(new RetryBackend(cached).inner).toBe(cached);
  });
});
