// check and copy on forged snapshots: check reports what every reader refuses (node faults, bounds), naming
// snapshot and tree; copy copies hostile trees without crashing, leaving out only duplicate names (named).

import { describe, expect, it } from 'vitest';
import { checkRepository } from '../../src/maintenance/check.js';
import { copySnapshots } from '../../src/maintenance/copy.js';
import { loadSnapshot } from '../../src/snapshot/snapshot.js';
import { loadTree } from '../../src/tree/tree-store.js';
import { MAX_DEPTH } from '../../src/tree/validate.js';
import { newRepo, rawNode, rawTree, snapshotOf } from '../restorer/helpers.js';

describe('check over the tree graph', () => {
  it('reports unsafe, duplicate and badly timed nodes, a 2^40 DAG and deep nesting, naming snapshot and tree', async () => {
    const { repo } = await newRepo();
    const bad = await rawTree(repo, [
      rawNode('..', 'file', { content: [] }),
      rawNode('d', 'file', { content: [] }),
      rawNode('d', 'symlink', { linktarget: '/' }),
    ]);
    const timed = await rawTree(repo, [rawNode('t', 'file', { content: [], mtime: 'garbage' })]);
    let dag = await rawTree(repo, [rawNode('leaf', 'file', { content: [] })]);
    for (let i = 0; i < 40; i++)
      dag = await rawTree(repo, [rawNode('a', 'dir', { subtree: dag }), rawNode('b', 'dir', { subtree: dag })]);
    let deep = await rawTree(repo, [rawNode('bottom', 'file', { content: [] })]);
    for (let i = 0; i < MAX_DEPTH + 10; i++) deep = await rawTree(repo, [rawNode('d', 'dir', { subtree: deep })]);
    const good = await rawTree(repo, [rawNode('fine', 'file', { content: [] })]);
    const snaps = {
      bad: await snapshotOf(repo, bad),
      timed: await snapshotOf(repo, timed),
      dag: await snapshotOf(repo, dag),
      deep: await snapshotOf(repo, deep),
      good: await snapshotOf(repo, good),
    };
    const r = await checkRepository(repo);
    expect(r.ok).toBe(false);
    const of = (sn: { id: string }) => r.problems.filter((p) => p.snapshot === sn.id);
    expect(of(snaps.bad).map((p) => p.kind)).toEqual(['node', 'node', 'node']);
    expect(
      of(snaps.bad).every(
        (p) => p.tree === bad && p.message.includes(snaps.bad.id.slice(0, 8)) && p.message.includes(bad),
      ),
    ).toBe(true);
    expect(of(snaps.timed).map((p) => p.message)).toEqual([expect.stringContaining('"garbage"')]);
    expect(of(snaps.dag).map((p) => p.kind)).toEqual(['bounds']);
    expect(of(snaps.dag)[0].message).toContain('beyond the bound');
    expect(of(snaps.deep).map((p) => p.kind)).toEqual(['bounds']);
    expect(of(snaps.deep)[0].message).toContain(`nests ${MAX_DEPTH + 11} levels deep`);
    expect(of(snaps.good)).toEqual([]);
  });
});

describe('copy of hostile trees', () => {
  it('copies unsafe names as they are and leaves out duplicate names with a warning, without crashing', async () => {
    const { repo: src } = await newRepo();
    const { repo: dst } = await newRepo();
    const inner = await rawTree(src, [rawNode('x', 'file', { content: [] })]);
    const root = await rawTree(src, [
      rawNode('..', 'file', { content: [] }),
      rawNode('esc', 'symlink', { linktarget: '../outside' }),
      rawNode('esc', 'dir', { subtree: inner }),
      rawNode('ok', 'file', { content: [], mtime: 'garbage' }),
    ]);
    const sn = await snapshotOf(src, root);
    const warnings: string[] = [];
    const r = await copySnapshots(src, dst, [sn], { onWarning: (m) => warnings.push(m) });
    expect(r.copied).toHaveLength(1);
    expect(r.warnings).toBe(2);
    expect(warnings.every((w) => w.includes(sn.id.slice(0, 8)) && w.includes(root) && w.includes('"esc"'))).toBe(true);
    const copy = await loadSnapshot(dst, r.copied[0].destination);
    const nodes = (await loadTree(dst, copy.tree)).nodes;
    expect(nodes.map((n) => [n.name.toString(), n.mtime])).toEqual([
      ['..', '2021-06-07T08:09:10.123456789Z'],
      ['ok', 'garbage'],
    ]);
  });
});
