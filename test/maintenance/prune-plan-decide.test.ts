// The whole prune decision as a table (decidePrune: gathered inputs in, plan out, no I/O): which packs are kept,
// deleted and repacked, which blobs a repack copies and from where, and when prune refuses. The pack rule itself
// (which partly used or small packs pay to repack) has its own table in prune-decide.test.ts.
import { describe, expect, it } from 'vitest';
import type { IndexedBlob } from '../../src/repository/blob.js';
import { decidePrune, type PruneOptions } from '../../src/maintenance/prune-plan.js';
import type { PruneInputs } from '../../src/maintenance/prune-gather.js';

const PACK_SIZE = 16 << 20;
const BLOB = 100_000; // stored length of every blob in the table

/** A 32-byte id whose hex starts with the given hex digits, e.g. id('a1') → a1000…0. */
const id = (hex: string) => hex.padEnd(64, '0');

/** A pack as the index lists it: its name and the ids of its blobs, all of one type. */
interface PackRow {
  name: string;
  type?: 'data' | 'tree';
  blobs: string[];
  /** The index names the pack but storage lacks it. */
  missing?: boolean;
}

function inputs(
  packs: PackRow[],
  used: string[],
  extra: { unindexed?: string[]; superseded?: string[] } = {},
): PruneInputs {
  const entries: IndexedBlob[] = [];
  const packFiles = new Map<string, number>();
  for (const p of packs) {
    let offset = 0;
    for (const b of p.blobs) {
      entries.push({
        pack: p.name,
        type: p.type ?? 'data',
        id: Buffer.from(id(b), 'hex'),
        compression: 0,
        offset,
        storedLength: BLOB,
        rawLength: BLOB,
      });
      offset += BLOB;
    }
    if (!p.missing) packFiles.set(p.name, offset + 100);
  }
  for (const u of extra.unindexed ?? []) packFiles.set(u, 5000);
  const typeOf = (b: string) => packs.find((p) => p.blobs.includes(b))?.type ?? 'data';
  return {
    snapshots: 1,
    usedBlobs: new Set(used.map((b) => `${typeOf(b)}:${id(b)}`)),
    packFiles,
    index: { entries: () => entries },
    supersededIndexFiles: extra.superseded ?? [],
    packSize: PACK_SIZE,
  };
}

const ALL: PruneOptions = { maxUnused: { kind: 'percent', value: 0 }, smallPackShare: 0 };

interface Row {
  name: string;
  packs: PackRow[];
  used: string[];
  opts?: PruneOptions;
  extra?: { unindexed?: string[]; superseded?: string[] };
  keep: string[];
  del: string[];
  repack: string[];
  unreferenced?: string[];
  /** pack → ids copied out of it, in plan order. */
  copy?: Record<string, string[]>;
  superseded?: string[];
}

const rows: Row[] = [
  {
    name: 'a fully used pack is kept',
    packs: [{ name: 'p1', blobs: ['a1', 'a2'] }],
    used: ['a1', 'a2'],
    keep: ['p1'],
    del: [],
    repack: [],
  },
  {
    name: 'a pack no snapshot needs is deleted',
    packs: [
      { name: 'p1', blobs: ['a1'] },
      { name: 'p2', blobs: ['b1', 'b2'] },
    ],
    used: ['a1'],
    keep: ['p1'],
    del: ['p2'],
    repack: [],
  },
  {
    name: 'a partly used pack over the limit is repacked and only its used blobs are copied',
    packs: [{ name: 'p1', blobs: ['a1', 'a2', 'a3'] }],
    used: ['a1', 'a3'],
    opts: ALL,
    keep: [],
    del: [],
    repack: ['p1'],
    copy: { p1: ['a1', 'a3'] },
  },
  {
    name: 'a partly used pack within the limit is kept',
    packs: [{ name: 'p1', blobs: ['a1', 'a2', 'a3'] }],
    used: ['a1', 'a3'],
    opts: { maxUnused: { kind: 'unlimited' } },
    keep: ['p1'],
    del: [],
    repack: [],
  },
  {
    name: 'of duplicate copies the first stored one is needed; a pack holding only the later copy is deleted',
    packs: [
      { name: 'p1', blobs: ['a1'] },
      { name: 'p2', blobs: ['a1'] },
    ],
    used: ['a1'],
    keep: ['p1'],
    del: ['p2'],
    repack: [],
  },
  {
    name: 'a blob a kept pack also holds is not copied out of a repacked pack',
    packs: [
      { name: 'p1', blobs: ['a1', 'x1', 'x2', 'x3'] },
      { name: 'p2', blobs: ['b1', 'a1'] },
    ],
    used: ['a1', 'b1'],
    opts: { maxUnused: { kind: 'bytes', value: BLOB } }, // p1 is the most wasteful; after it, p2's one unused blob is within the limit
    keep: ['p2'],
    del: [],
    repack: ['p1'],
    copy: { p1: [] },
  },
  {
    name: 'a blob held by two repacked packs is copied once, from the first',
    packs: [
      { name: 'p1', blobs: ['a1', 'x1'] },
      { name: 'p2', blobs: ['a1', 'b1', 'x2'] },
    ],
    used: ['a1', 'b1'],
    opts: ALL,
    keep: [],
    del: [],
    repack: ['p1', 'p2'],
    copy: { p1: ['a1'], p2: ['b1'] },
  },
  {
    name: 'a copy in a pack storage lacks does not stand in for one that is repacked',
    packs: [
      { name: 'gone', blobs: ['a1'], missing: true },
      { name: 'p1', blobs: ['a1', 'x1'] },
    ],
    used: ['a1'],
    opts: ALL,
    keep: [],
    del: [],
    repack: ['p1'],
    copy: { p1: ['a1'] },
  },
  {
    name: 'tree and data packs are decided alike, each blob copied with its type',
    packs: [
      { name: 't1', type: 'tree', blobs: ['c1', 'c2'] },
      { name: 'p1', blobs: ['a1'] },
    ],
    used: ['c1', 'a1'],
    opts: ALL,
    keep: ['p1'],
    del: [],
    repack: ['t1'],
    copy: { t1: ['c1'] },
  },
  {
    name: 'a pack file no index names is unreferenced and deleted',
    packs: [{ name: 'p1', blobs: ['a1'] }],
    used: ['a1'],
    extra: { unindexed: ['u1'] },
    keep: ['p1'],
    del: [],
    repack: [],
    unreferenced: ['u1'],
  },
  {
    name: 'superseded index files are work when no pack needs any',
    packs: [{ name: 'p1', blobs: ['a1'] }],
    used: ['a1'],
    extra: { superseded: ['i2', 'i1'] },
    keep: ['p1'],
    del: [],
    repack: [],
    superseded: ['i1', 'i2'],
  },
  {
    name: 'superseded index files are left to the rewrite that pack work does anyway',
    packs: [
      { name: 'p1', blobs: ['a1'] },
      { name: 'p2', blobs: ['b1'] },
    ],
    used: ['a1'],
    extra: { superseded: ['i1'] },
    keep: ['p1'],
    del: ['p2'],
    repack: [],
    superseded: [],
  },
  {
    name: 'small fully used packs of one type are merged: all their blobs are copied',
    packs: [
      { name: 's1', blobs: ['a1'] },
      { name: 's2', blobs: ['b1', 'b2'] },
    ],
    used: ['a1', 'b1', 'b2'],
    opts: { smallPackShare: 1 / 8 },
    keep: [],
    del: [],
    repack: ['s1', 's2'],
    copy: { s1: ['a1'], s2: ['b1', 'b2'] },
  },
  { name: 'an empty repository has nothing to do', packs: [], used: [], keep: [], del: [], repack: [] },
];

describe('decidePrune', () => {
  it.each(rows)('$name', (row) => {
    // The packs in the table are all small; merging small packs is off unless a row turns it on.
    const plan = decidePrune(inputs(row.packs, row.used, row.extra), { smallPackShare: 0, ...row.opts });
    expect(plan.keepPacks).toEqual(row.keep);
    expect(plan.deletePacks).toEqual(row.del);
    expect(plan.repackPacks).toEqual(row.repack);
    expect(plan.unreferencedPacks).toEqual(row.unreferenced ?? []);
    expect(plan.supersededIndexFiles).toEqual(row.superseded ?? []);
    const copied = Object.fromEntries(plan.copyBlobs.map((c) => [c.pack, c.blobs.map((b) => b.id.slice(0, 2))]));
    expect(copied).toEqual(row.copy ?? {});
    expect(plan.stats.blobsToCopy).toBe(Object.values(row.copy ?? {}).flat().length);
    // Every stored, indexed pack ends in exactly one of keep, delete and repack.
    const stored = row.packs.filter((p) => !p.missing).map((p) => p.name);
    expect([...plan.keepPacks, ...plan.deletePacks, ...plan.repackPacks].sort()).toEqual(stored.sort());
  });

  it('copies every blob with the type the index gives it', () => {
    const plan = decidePrune(inputs([{ name: 't1', type: 'tree', blobs: ['c1', 'c2'] }], ['c1']), ALL);
    expect(plan.copyBlobs).toEqual([{ pack: 't1', blobs: [{ type: 'tree', id: id('c1') }] }]);
  });

  it('refuses when a snapshot needs a blob no stored pack holds (the only copy is in a missing pack)', () => {
    const run = () =>
      decidePrune(
        inputs(
          [
            { name: 'gone', blobs: ['a1'], missing: true },
            { name: 'p1', blobs: ['b1'] },
          ],
          ['a1', 'b1'],
        ),
      );
    expect(run).toThrow(expect.objectContaining({ code: 'INTEGRITY' }));
    expect(run).toThrow(/a snapshot needs data blob a1/);
  });

  it('is a function of its inputs: the same inputs give the same plan', () => {
    const make = () =>
      inputs(
        [
          { name: 'p2', blobs: ['a1', 'x1'] },
          { name: 'p1', blobs: ['b1', 'x2'] },
        ],
        ['a1', 'b1'],
      );
    expect(decidePrune(make(), ALL)).toEqual(decidePrune(make(), ALL));
  });
});
