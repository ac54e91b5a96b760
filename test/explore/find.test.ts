// findPaths and findObjects on crafted snapshots: basename, anchored and suffix patterns, case, time bounds, blobs, trees and packs.
// Tree loads are counted to show that a tree without matches is not walked twice.

import { describe, expect, it } from 'vitest';
import { idToHex } from '../../src/core/id.js';
import { compilePatterns, findObjects, findPaths, resolveTargets } from '../../src/snapshot/find.js';
import { memoryRepo } from '../helpers/repo.js';
import { blob, bytes, countingRepo, dir, file, snapshot } from './helpers.js';

async function fixture() {
  const { repo } = await memoryRepo({ compression: 'off' });
  const shared = await dir(repo, 'lib', [
    await file(repo, 'util.go', [bytes(300, 1)]),
    await file(repo, 'README.md', [bytes(10, 2)]),
  ]);
  const old = { mtime: '2020-01-01T00:00:00.000000000Z' };
  const s1 = await snapshot(
    repo,
    [
      await dir(repo, 'docs', [
        await file(repo, 'Guide.MD', [bytes(50, 3)], old),
        await file(repo, 'notes.txt', [bytes(60, 4)]),
      ]),
      shared,
    ],
    '2024-01-01T00:00:00Z',
  );
  const s2 = await snapshot(
    repo,
    [shared, await file(repo, 'main.go', [bytes(70, 5), bytes(300, 1)])],
    '2024-01-02T00:00:00Z',
  );
  return { repo, s1, s2, shared };
}

const paths = (r: Awaited<ReturnType<typeof findPaths>>) => r.map((x) => [x.snapshot.id, x.matches.map((m) => m.path)]);

describe('find patterns', () => {
  it('match the basename without "/", the whole path with a leading "/", and trailing components otherwise', () => {
    const m = compilePatterns(['*.go']);
    expect([m('/a/b.go'), m('/a.go/b'), m('/x/go')]).toEqual([true, false, false]);
    expect(m.basenameOnly).toBe(true);
    const anchored = compilePatterns(['/docs/*.md']);
    expect([anchored('/docs/a.md'), anchored('/x/docs/a.md'), anchored('/docs/sub/a.md')]).toEqual([
      true,
      false,
      false,
    ]);
    expect(anchored.basenameOnly).toBe(false);
    const suffix = compilePatterns(['docs/*.md']);
    expect([suffix('/docs/a.md'), suffix('/x/docs/a.md'), suffix('/x/mydocs/a.md')]).toEqual([true, true, false]);
    const deep = compilePatterns(['/a/**/z']);
    expect([deep('/a/z'), deep('/a/b/c/z'), deep('/b/a/z')]).toEqual([true, true, false]);
    expect(compilePatterns(['readme.md'], true)('/lib/README.md')).toBe(true);
    expect(compilePatterns(['readme.md'])('/lib/README.md')).toBe(false);
  });
});

describe('findPaths', () => {
  it('lists matching paths per snapshot, oldest given first', async () => {
    const { repo, s1, s2 } = await fixture();
    expect(paths(await findPaths(repo, [s1, s2], { patterns: ['*.go'] }))).toEqual([
      [s1.id, ['/lib/util.go']],
      [s2.id, ['/lib/util.go', '/main.go']],
    ]);
    expect(paths(await findPaths(repo, [s1, s2], { patterns: ['/docs/*'] }))).toEqual([
      [s1.id, ['/docs/Guide.MD', '/docs/notes.txt']],
    ]);
    expect(paths(await findPaths(repo, [s1, s2], { patterns: ['*.md'], ignoreCase: true }))).toEqual([
      [s1.id, ['/docs/Guide.MD', '/lib/README.md']],
      [s2.id, ['/lib/README.md']],
    ]);
    expect(paths(await findPaths(repo, [s1, s2], { patterns: ['lib'] }))).toEqual([
      [s1.id, ['/lib']],
      [s2.id, ['/lib']],
    ]);
    expect(await findPaths(repo, [s1, s2], { patterns: ['nothing*'] })).toEqual([]);
  });

  it('applies --oldest/--newest to modification times', async () => {
    const { repo, s1, s2 } = await fixture();
    const before = await findPaths(repo, [s1, s2], { patterns: ['*'], newest: new Date('2021-01-01T00:00:00Z') });
    expect(paths(before)).toEqual([[s1.id, ['/docs/Guide.MD']]]);
    const after = await findPaths(repo, [s1, s2], {
      patterns: ['*.md'],
      ignoreCase: true,
      oldest: new Date('2021-01-01T00:00:00Z'),
    });
    expect(paths(after)).toEqual([
      [s1.id, ['/lib/README.md']],
      [s2.id, ['/lib/README.md']],
    ]);
  });

  it('does not walk a tree again once it is known to hold no match', async () => {
    const { repo, s1, s2, shared } = await fixture();
    const { repo: counted, loads } = countingRepo(repo);
    await findPaths(counted, [s1, s2], { patterns: ['notes.txt'] });
    expect(loads.filter((t) => t === shared.subtree)).toHaveLength(1);
  });
});

describe('findObjects', () => {
  it('finds every use of a data blob (by prefix) and of a tree', async () => {
    const { repo, s1, s2, shared } = await fixture();
    const util = idToHex(repo.blobId(bytes(300, 1)));
    const t = resolveTargets(repo.index, { blobs: [util.slice(0, 12)], trees: [shared.subtree!] });
    expect([...t.data]).toEqual([util]);
    const hits = await findObjects(repo, [s1, s2], t);
    const rows = hits.map((h) => [h.objectType, h.snapshot.id, h.path]);
    expect(rows).toEqual([
      ['tree', s1.id, '/lib'],
      ['blob', s1.id, '/lib/util.go'],
      ['tree', s2.id, '/lib'],
      ['blob', s2.id, '/lib/util.go'],
      ['blob', s2.id, '/main.go'],
    ]);
    expect(hits[1].packs).toEqual([repo.index.lookup('data', Buffer.from(util, 'hex'))!.pack]);
    expect(hits[1].parentTree).toBe(shared.subtree);
    const root = await findObjects(repo, [s1, s2], resolveTargets(repo.index, { trees: [s2.tree] }));
    expect(root.map((h) => [h.snapshot.id, h.path])).toEqual([[s2.id, '/']]);
  });

  it('--pack stands for every blob of the pack', async () => {
    const { repo } = await memoryRepo({ compression: 'off' });
    const only = await blob(repo, bytes(999, 9));
    await repo.flush();
    const pack = repo.index.lookup('data', Buffer.from(only, 'hex'))!.pack;
    const s = await snapshot(repo, [await file(repo, 'x', [bytes(999, 9)])], '2024-01-01T00:00:00Z');
    const t = resolveTargets(repo.index, { packs: [pack.slice(0, 10)] });
    expect([...t.data]).toEqual([only]);
    const hits = await findObjects(repo, [s], t);
    expect(hits.map((h) => h.path)).toEqual(['/x']);
    expect(() => resolveTargets(repo.index, { blobs: ['ffffffffffff'] })).toThrow(/no blob/);
    expect(() => resolveTargets(repo.index, { packs: ['zz'] })).toThrow(/invalid pack/);
  });
});
