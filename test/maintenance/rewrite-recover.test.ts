// rewriteSnapshots and recoverTrees on a real repository in memory (no CLI): what a rewrite leaves alone, what a
// dry run stores, directory excludes and recounted totals; and which trees recover finds after snapshots are lost.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupPaths } from '../../src/archiver/index.js';
import { compileRules } from '../../src/archiver/exclude.js';
import { recoverTrees } from '../../src/maintenance/recover.js';
import { REWRITE_TAG, rewriteSnapshots } from '../../src/maintenance/rewrite.js';
import type { Repository } from '../../src/repository/repository.js';
import { listSnapshots } from '../../src/snapshot/snapshot.js';
import { loadTree } from '../../src/tree/tree-store.js';
import { walkTree } from '../../src/tree/walk.js';
import { memoryRepo, tempDir } from '../helpers/repo.js';

const work = tempDir('rewrite-recover-');
const src = path.join(work, 'src');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

beforeAll(() => {
  fs.mkdirSync(path.join(src, 'cache', 'deep'), { recursive: true });
  fs.writeFileSync(path.join(src, 'cache', 'deep', 'blob.bin'), Buffer.alloc(5000, 7));
  fs.writeFileSync(path.join(src, 'cache', 'index'), 'idx');
  fs.writeFileSync(path.join(src, 'keep.txt'), 'keep me\n');
});

async function paths(repo: Repository, tree: string): Promise<string[]> {
  const out: string[] = [];
  await walkTree((id) => loadTree(repo, id), tree, { node: (_n, p) => void out.push(p) });
  return out;
}

const exclude = (...patterns: string[]) => compileRules(patterns.map((pattern) => ({ pattern, ignoreCase: false })));

describe('rewriteSnapshots', () => {
  it('leaves unmatched snapshots alone, stores nothing on a dry run, and drops a matched directory whole', async () => {
    const { repo } = await memoryRepo({ workers: 0 });
    await backupPaths(repo, [src], { host: 'h', tags: ['x'] });
    const [sn] = await listSnapshots(repo);
    const packs = async () => (await repo.listNames('data')).length;
    const packsBefore = await packs();

    const none = await rewriteSnapshots(repo, [sn], { exclude: exclude('nothing-here') });
    expect(none).toEqual([{ original: sn.id, excluded: [], removedOriginal: false }]);

    const dry = await rewriteSnapshots(repo, [sn], { exclude: exclude('cache'), dryRun: true });
    expect(dry[0].rewritten).toBeUndefined();
    expect(dry[0].excluded).toEqual([`${src}/cache`]);
    expect((await listSnapshots(repo)).map((s) => s.id)).toEqual([sn.id]);
    await repo.flush();
    expect(await packs()).toBe(packsBefore); // nothing was even buffered

    const [r] = await rewriteSnapshots(repo, [sn], { exclude: exclude('cache') });
    expect(await packs()).toBe(packsBefore + 1); // the new trees only
    const all = await listSnapshots(repo);
    expect(all).toHaveLength(2);
    const made = all.find((s) => s.id === r.rewritten)!;
    expect(made.tags).toEqual(['x', REWRITE_TAG]);
    expect(made.original).toBe(sn.id);
    expect(made.summary).toMatchObject({ total_files_processed: 1, total_bytes_processed: 8 });
    expect(made.summary!.files_new).toBe(sn.summary!.files_new);
    expect((await paths(repo, made.tree)).filter((p) => p.includes('cache'))).toEqual([]);
    expect(await paths(repo, made.tree)).toContain(`${src.slice(1)}/keep.txt`);

    // Rewriting the rewritten snapshot again with --forget: no second "rewrite" tag is added, the original goes.
    const [again] = await rewriteSnapshots(repo, [made], { exclude: exclude('keep.txt'), forget: true });
    expect(again.removedOriginal).toBe(true);
    const last = await listSnapshots(repo);
    expect(last.map((s) => s.id).sort()).toEqual([sn.id, again.rewritten!].sort());
    expect(last.find((s) => s.id === again.rewritten)!.tags).toEqual(['x', REWRITE_TAG]);
    await repo.close();
  });
});

describe('recoverTrees', () => {
  it('finds only the root trees of lost snapshots and saves one snapshot holding them', async () => {
    const { repo, backend } = await memoryRepo({ workers: 0 });
    await backupPaths(repo, [src], { host: 'h' });
    fs.writeFileSync(path.join(src, 'keep.txt'), 'changed\n');
    await backupPaths(repo, [src], { host: 'h' });
    const [first, second] = await listSnapshots(repo);
    expect(await recoverTrees(repo, { dryRun: true })).toMatchObject({ roots: [] });

    await backend.remove({ type: 'snapshots', name: second.id });
    const dry = await recoverTrees(repo, { dryRun: true });
    expect(dry.roots).toEqual([second.tree]);
    expect(dry.snapshot).toBeUndefined();

    const r = await recoverTrees(repo, { now: new Date('2026-12-01T00:00:00Z'), host: 'rescuer' });
    const rec = (await listSnapshots(repo)).find((s) => s.id === r.snapshot)!;
    expect(rec).toMatchObject({ paths: ['/recover'], tags: ['recovered'], hostname: 'rescuer' });
    const root = await loadTree(repo, rec.tree);
    expect(root.nodes.map((n) => [n.name.toString(), n.type, n.mode, n.subtree])).toEqual([
      [second.tree.slice(0, 8), 'dir', 0o755, second.tree],
    ]);
    expect(first.tree).not.toBe(second.tree);
    expect((await recoverTrees(repo, { dryRun: true })).roots).toEqual([]);
    await repo.close();
  });
});
