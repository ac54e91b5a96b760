// The prune decision as a table: which packs are deleted and repacked, given per-pack facts. The rule under
// test: every action gains something (frees bytes or makes fewer packs), so nothing is repacked for nothing.
import { describe, expect, it } from 'vitest';
import {
  decidePacks,
  packOverhead,
  packsFor,
  type DecideOptions,
  type PackFacts,
} from '../../src/maintenance/prune-decide.js';

const MiB = 1 << 20;
const PACK = 16 * MiB; // target pack size; small packs are those under 2 MiB
const OPTS: DecideOptions = {
  maxUnused: { kind: 'percent', value: 5 },
  maxRepackSize: Infinity,
  packSize: PACK,
  smallPackShare: 1 / 8,
};

/** A pack of `type` holding `used` and `unused` bytes in 100 KiB-ish blobs, sized as the writer would store it. */
function pack(name: string, type: 'data' | 'tree', used: number, unused = 0): PackFacts {
  const usedBlobs = used === 0 ? 0 : Math.max(1, Math.round(used / 100_000));
  const unusedBlobs = unused === 0 ? 0 : Math.max(1, Math.round(unused / 100_000));
  return {
    pack: name,
    type,
    used,
    unused,
    usedBlobs,
    unusedBlobs,
    size: used + unused + packOverhead(usedBlobs + unusedBlobs),
  };
}

interface Row {
  name: string;
  packs: PackFacts[];
  opts?: Partial<DecideOptions>;
  del: string[];
  repack: string[];
}

const rows: Row[] = [
  { name: 'an empty repository', packs: [], del: [], repack: [] },
  { name: 'one full pack', packs: [pack('a', 'data', PACK)], del: [], repack: [] },
  {
    name: 'a single small data pack (it would come out as a single small pack again)',
    packs: [pack('a', 'data', MiB)],
    del: [],
    repack: [],
  },
  // The reported bug: one small tree pack and one small data pack were "merged" into one of each on every run.
  {
    name: 'one small tree pack and one small data pack (types never share a pack)',
    packs: [pack('t', 'tree', 20_000), pack('d', 'data', MiB)],
    del: [],
    repack: [],
  },
  {
    name: 'two small data packs are merged into one',
    packs: [pack('a', 'data', MiB), pack('b', 'data', MiB), pack('t', 'tree', 20_000)],
    del: [],
    repack: ['a', 'b'],
  },
  {
    name: 'two small tree packs are merged, a lone small data pack is left',
    packs: [pack('t1', 'tree', 20_000), pack('t2', 'tree', 30_000), pack('d', 'data', MiB)],
    del: [],
    repack: ['t1', 't2'],
  },
  {
    name: 'a pack no snapshot needs is deleted',
    packs: [pack('a', 'data', PACK), pack('x', 'data', 0, 3 * MiB)],
    del: ['x'],
    repack: [],
  },
  {
    name: 'a partly used pack over the limit is repacked',
    packs: [pack('a', 'data', PACK), pack('p', 'data', 8 * MiB, 8 * MiB)],
    del: [],
    repack: ['p'],
  },
  {
    name: 'a partly used pack within the limit stays',
    packs: [pack('a', 'data', 10 * PACK), pack('p', 'data', 15 * MiB, MiB)],
    del: [],
    repack: [],
  },
  {
    name: 'with unlimited unused space a partly used pack stays',
    packs: [pack('a', 'data', PACK), pack('p', 'data', 8 * MiB, 8 * MiB)],
    opts: { maxUnused: { kind: 'unlimited' } },
    del: [],
    repack: [],
  },
  {
    name: 'a byte limit is honoured',
    packs: [pack('a', 'data', PACK), pack('p', 'data', 8 * MiB, 8 * MiB)],
    opts: { maxUnused: { kind: 'bytes', value: 9 * MiB } },
    del: [],
    repack: [],
  },
  {
    name: 'the most wasteful partly used pack goes first, until within the limit',
    packs: [pack('a', 'data', 4 * PACK), pack('p1', 'data', 14 * MiB, 2 * MiB), pack('p2', 'data', 4 * MiB, 12 * MiB)],
    del: [],
    repack: ['p2'],
  },
  // A repacked partial pack ends in a partly filled new pack: one small pack of its type merges into it for free.
  {
    name: 'a small pack joins the repack of a partly used pack of its type',
    packs: [pack('a', 'data', 4 * PACK), pack('p', 'data', 4 * MiB, 12 * MiB), pack('s', 'data', MiB)],
    del: [],
    repack: ['p', 's'],
  },
  {
    name: 'a small pack of the other type does not join',
    packs: [pack('a', 'data', 4 * PACK), pack('p', 'data', 4 * MiB, 12 * MiB), pack('s', 'tree', 50_000)],
    del: [],
    repack: ['p'],
  },
  // ...unless adding it spills into one more new pack: then the count stays the same and it is left alone.
  {
    name: 'a small pack that would spill the repack into another pack stays',
    packs: [pack('a', 'data', 4 * PACK), pack('p', 'data', PACK - MiB / 2, 12 * MiB), pack('s', 'data', MiB)],
    del: [],
    repack: ['p'],
  },
  {
    name: 'a small partly used pack (within the limit) is merged with another small pack',
    packs: [pack('a', 'data', 4 * PACK), pack('s1', 'data', MiB, 100_000), pack('s2', 'data', MiB)],
    del: [],
    repack: ['s1', 's2'],
  },
  {
    name: '--max-repack-size leaves room for one small pack only: nothing to gain',
    packs: [pack('a', 'data', MiB), pack('b', 'data', MiB)],
    opts: { maxRepackSize: 1.5 * MiB },
    del: [],
    repack: [],
  },
  {
    name: '--max-repack-size bounds the small packs merged',
    packs: [pack('a', 'data', MiB), pack('b', 'data', MiB), pack('c', 'data', 1.5 * MiB)],
    opts: { maxRepackSize: 2.5 * MiB },
    del: [],
    repack: ['a', 'b'],
  },
  {
    name: '--max-repack-size skips a partly used pack that does not fit',
    packs: [pack('a', 'data', PACK), pack('p', 'data', 8 * MiB, 8 * MiB)],
    opts: { maxRepackSize: 8 * MiB },
    del: [],
    repack: [],
  },
];

describe('decidePacks', () => {
  for (const row of rows) {
    it(row.name, () => {
      const d = decidePacks(row.packs, { ...OPTS, ...row.opts });
      expect(d.deletePacks).toEqual(row.del);
      expect(d.repackPacks).toEqual(row.repack);
    });
  }

  it('every repack in the table gains: it frees unused bytes or leaves fewer packs of each type', () => {
    for (const row of rows) {
      const d = decidePacks(row.packs, { ...OPTS, ...row.opts });
      const chosen = row.packs.filter((p) => d.repackPacks.includes(p.pack));
      for (const type of ['data', 'tree'] as const) {
        const ofType = chosen.filter((p) => p.type === type);
        if (ofType.length === 0) continue;
        const frees = ofType.some((p) => p.unused > 0);
        const fewer =
          packsFor(
            ofType.reduce((a, p) => a + p.used, 0),
            PACK,
          ) < ofType.length;
        expect(frees || fewer, row.name).toBe(true);
      }
    }
  });

  it('deciding again on what a repack leaves behind finds nothing to do', () => {
    for (const row of rows) {
      const opts = { ...OPTS, ...row.opts };
      const d = decidePacks(row.packs, opts);
      // What the repository holds afterwards: the kept packs, and new packs filled to the target size.
      const kept = row.packs.filter((p) => !d.deletePacks.includes(p.pack) && !d.repackPacks.includes(p.pack));
      const after = [...kept];
      for (const type of ['data', 'tree'] as const) {
        let left = row.packs
          .filter((p) => d.repackPacks.includes(p.pack) && p.type === type)
          .reduce((a, p) => a + p.used, 0);
        for (let i = 0; left > 0; i++, left -= PACK) after.push(pack(`new-${type}-${i}`, type, Math.min(PACK, left)));
      }
      const again = decidePacks(after, { ...opts, maxRepackSize: Infinity });
      if (opts.maxRepackSize === Infinity) {
        expect(again.deletePacks, row.name).toEqual([]);
        expect(again.repackPacks, row.name).toEqual([]);
      }
    }
  });

  it('expects to write what the packer writes: blobs, one header entry per blob, one envelope per pack', () => {
    const a = pack('a', 'data', MiB);
    const b = pack('b', 'data', MiB);
    const d = decidePacks([a, b], OPTS);
    expect(d.packsToWrite).toBe(1);
    expect(d.bytesToWrite).toBe(a.used + b.used + packOverhead(a.usedBlobs + b.usedBlobs));
  });
});
