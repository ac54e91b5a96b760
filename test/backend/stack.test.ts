// The typed backend stack: unwrap() finds a layer by class through any wrapper, and what depends on a
// particular layer (prune's cleanup of abandoned temporary files) still finds it under a cache.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CacheBackend } from '../../src/backend/cache.js';
import { DryRunBackend } from '../../src/backend/dry-run.js';
import { LocalBackend, TEMP_PREFIX } from '../../src/backend/local.js';
import { MemoryBackend } from '../../src/backend/memory.js';
import { openBackend } from '../../src/backend/open.js';
import { RetryBackend } from '../../src/backend/retry.js';
import { innermost, layers, unwrap } from '../../src/backend/stack.js';
import { executePrune } from '../../src/maintenance/prune-execute.js';
import { planPrune } from '../../src/maintenance/prune-plan.js';
import { Repository } from '../../src/repository/repository.js';
import { backupPaths } from '../../src/archiver/index.js';
import { localRepo, memoryRepo, PASSWORD, prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { listNames, randomId, rejection } from './conformance.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe('unwrap', () => {
  it('finds each layer by class, outermost first', () => {
    const mem = new MemoryBackend();
    const retry = new RetryBackend(mem);
    const cache = new CacheBackend(retry, { dir: '/nonexistent-cache' });
    expect([...layers(cache)]).toEqual([cache, retry, mem]);
    expect(unwrap(cache, RetryBackend)).toBe(retry);
    expect(unwrap(cache, MemoryBackend)).toBe(mem);
    expect(unwrap(cache, LocalBackend)).toBeUndefined();
    expect(unwrap(mem, MemoryBackend)).toBe(mem);
    expect(innermost(cache)).toBe(mem);
  });
});

describe('prune under a local cache (cache.local)', () => {
  it('removes abandoned temporary files of the local repository below the cache', async () => {
    const work = tempDir();
    dirs.push(work);
    const repoDir = path.join(work, 'repo');
    await (await localRepo(repoDir)).close();
    const stale = path.join(repoDir, 'data', 'ab', `${TEMP_PREFIX}killedwriter`);
    fs.writeFileSync(stale, 'half a pack');
    const longAgo = new Date(Date.now() - 24 * 3600 * 1000);
    fs.utimesSync(stale, longAgo, longAgo);

    const backend = await openBackend(repoDir, { cache: { dir: path.join(work, 'cache'), local: true } });
    expect(backend).toBeInstanceOf(CacheBackend);
    const repo = await Repository.open(backend, PASSWORD);
    const result = await executePrune(repo, await planPrune(repo));
    await repo.close();
    expect(result.temporaryFilesRemoved).toBe(1);
    expect(fs.existsSync(stale)).toBe(false);
  });
});

describe('DryRunBackend', () => {
  it('discards pack and index writes, passes locks, refuses everything else', async () => {
    const mem = new MemoryBackend();
    const dry = new DryRunBackend(mem);
    const id = randomId();
    await dry.save({ type: 'data', name: id }, Buffer.from('pack'));
    await dry.save({ type: 'index', name: id }, Buffer.from('index'));
    expect(await listNames(mem, 'data')).toEqual([]);
    expect(await listNames(mem, 'index')).toEqual([]);
    await dry.save({ type: 'locks', name: id }, Buffer.from('lock'));
    expect(await listNames(mem, 'locks')).toEqual([id]);
    await dry.remove({ type: 'locks', name: id });
    for (const type of ['snapshots', 'keys', 'audit'] as const) {
      expect((await rejection(dry.save({ type, name: id }, Buffer.from('x')))).code).toBe('INVALID_ARGUMENT');
    }
    expect((await rejection(dry.save({ type: 'config', name: 'config' }, Buffer.from('x')))).code).toBe(
      'INVALID_ARGUMENT',
    );
    await mem.save({ type: 'data', name: id }, Buffer.from('stored'));
    expect(await rejection(dry.remove({ type: 'data', name: id }))).toBeDefined();
    expect(await listNames(mem, 'data')).toEqual([id]);
  });
});

describe('backup --dry-run through a DryRunBackend', () => {
  it('seals every blob but stores no pack, index or snapshot; the lock it took is gone afterwards', async () => {
    const { repo: setup, backend } = await memoryRepo();
    await setup.close().catch(() => undefined);
    const work = tempDir();
    dirs.push(work);
    fs.writeFileSync(path.join(work, 'a.bin'), randomBuffer(prng(5), 3_000_000));
    const before = { keys: await listNames(backend, 'keys'), config: await listNames(backend, 'config') };
    const repo = await Repository.open(backend, PASSWORD, { dryRun: true });
    const r = await backupPaths(repo, [work], { dryRun: true });
    await repo.close();
    expect(r.snapshotId).toBeUndefined();
    expect(repo.stats.blobsAdded).toBeGreaterThan(0);
    for (const type of ['data', 'index', 'snapshots', 'locks', 'audit'] as const)
      expect(await listNames(backend, type)).toEqual([]);
    expect({ keys: await listNames(backend, 'keys'), config: await listNames(backend, 'config') }).toEqual(before);
  });
});
