// tagSnapshots: rewrites keep time, tree and every other member, record the first original, and remove the old file only after.
// Uses a memory repository; checks the stored snapshot files, not only the returned ids.

import { describe, expect, it } from 'vitest';
import { listSnapshots, loadSnapshot } from '../../src/snapshot/snapshot.js';
import { applyTagChanges, tagSnapshots, validateTagChanges } from '../../src/snapshot/tag.js';
import { memoryRepo } from '../helpers/repo.js';
import { bytes, file, snapshot } from './helpers.js';

describe('tag changes', () => {
  it('set replaces, add appends missing, remove drops, order kept', () => {
    expect(applyTagChanges(['a', 'b'], { add: ['c', 'a'] })).toEqual(['a', 'b', 'c']);
    expect(applyTagChanges(['a', 'b'], { remove: ['a', 'x'] })).toEqual(['b']);
    expect(applyTagChanges(['a', 'b'], { add: ['c'], remove: ['b'] })).toEqual(['a', 'c']);
    expect(applyTagChanges(['a'], { set: ['z', 'y', 'z'] })).toEqual(['z', 'y']);
    expect(applyTagChanges(['a'], { set: [] })).toEqual([]);
    expect(() => validateTagChanges({ set: ['a'], add: ['b'] })).toThrow(/--set/);
    expect(() => validateTagChanges({})).toThrow(/nothing to do/);
    expect(() => validateTagChanges({ add: [] })).toThrow(/nothing to do/);
    expect(() => validateTagChanges({ set: [] })).not.toThrow();
  });
});

describe('tagSnapshots', () => {
  it('rewrites changed snapshots under new ids with the same time and tree and records the first original', async () => {
    const { repo } = await memoryRepo();
    const children = [await file(repo, 'x', [bytes(100, 1)])];
    const s1 = await snapshot(repo, children, '2024-01-01T10:00:00.123456789+01:00', {
      tags: ['daily'],
      custom: { keep: 1 },
    });
    const s2 = await snapshot(repo, children, '2024-01-02T10:00:00Z', { tags: ['weekly'] });

    const [r] = await tagSnapshots(repo, [s1, s2], { add: ['weekly'], remove: ['x'] });
    expect(r.oldId).toBe(s1.id); // s2 already had the tag: untouched
    const names = await repo.listNames('snapshots');
    expect(names).toContain(r.newId);
    expect(names).not.toContain(s1.id);
    expect(names).toContain(s2.id);
    const n1 = await loadSnapshot(repo, r.newId);
    expect(n1).toMatchObject({
      time: s1.time,
      tree: s1.tree,
      paths: s1.paths,
      hostname: 'host',
      tags: ['daily', 'weekly'],
      original: s1.id,
      custom: { keep: 1 },
    });

    const [again] = await tagSnapshots(repo, [n1], { set: ['archive'] });
    const n2 = await loadSnapshot(repo, again.newId);
    expect(n2.original).toBe(s1.id); // the first original, not the intermediate rewrite
    expect(n2.tags).toEqual(['archive']);
    expect(n2.time).toBe(s1.time);
    expect((await listSnapshots(repo)).map((s) => s.id).sort()).toEqual([n2.id, s2.id].sort());

    expect(await tagSnapshots(repo, [n2], { add: ['archive'] })).toEqual([]);
  });
});
