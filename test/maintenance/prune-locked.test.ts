// Prune's decision around Object Lock (decidePrune with lockedPacks, no I/O): a locked pack is neither deleted nor
// repacked whatever it holds, its needed blobs are not copied, and the plan names it with its retain-until date. Also
// the day-rounded retain-until date every locked write uses, and the policy validation.
import { describe, expect, it } from 'vitest';
import { retainUntil, validateObjectLockPolicy } from '../../src/backend/object-lock.js';
import type { PruneInputs } from '../../src/maintenance/prune-gather.js';
import { decidePrune } from '../../src/maintenance/prune-plan.js';
import type { IndexedBlob } from '../../src/repository/blob.js';

const id = (hex: string) => hex.padEnd(64, '0');
const BLOB = 100_000;

function inputs(packs: { name: string; blobs: string[] }[], used: string[], unindexed: string[] = []): PruneInputs {
  const entries: IndexedBlob[] = [];
  const packFiles = new Map<string, number>();
  for (const p of packs) {
    p.blobs.forEach((b, i) =>
      entries.push({
        pack: p.name,
        type: 'data',
        id: Buffer.from(id(b), 'hex'),
        compression: 0,
        offset: i * BLOB,
        storedLength: BLOB,
        rawLength: BLOB,
      }),
    );
    packFiles.set(p.name, p.blobs.length * BLOB + 100);
  }
  for (const u of unindexed) packFiles.set(u, 5000);
  return {
    snapshots: 1,
    usedBlobs: new Set(used.map((b) => `data:${id(b)}`)),
    packFiles,
    index: { entries: () => entries },
    supersededIndexFiles: [],
    packSize: 16 << 20,
  };
}

const P = (c: string) => c.repeat(64);
const ALL = { maxUnused: { kind: 'percent' as const, value: 0 }, smallPackShare: 0 };

describe('decidePrune with locked packs', () => {
  const packs = [
    { name: P('a'), blobs: ['01', '02'] }, // unused: would be deleted
    { name: P('b'), blobs: ['03', '04'] }, // half used: would be repacked
    { name: P('c'), blobs: ['05'] }, // unused
  ];
  const used = ['03'];

  it('without locks deletes and repacks', () => {
    const plan = decidePrune(inputs(packs, used, [P('d')]), ALL);
    expect(plan.deletePacks).toEqual([P('a'), P('c')]);
    expect(plan.repackPacks).toEqual([P('b')]);
    expect(plan.unreferencedPacks).toEqual([P('d')]);
    expect(plan.lockedPacks).toEqual([]);
  });

  it('keeps locked packs as they are and names them with their dates', () => {
    const until = '2030-01-02T00:00:00.000Z';
    const locked = new Map([
      [P('a'), until],
      [P('b'), until],
      [P('d'), until],
    ]);
    const plan = decidePrune({ ...inputs(packs, used, [P('d')]), lockedPacks: locked }, ALL);
    expect(plan.deletePacks).toEqual([P('c')]);
    expect(plan.repackPacks).toEqual([]);
    expect(plan.unreferencedPacks).toEqual([]);
    expect(plan.copyBlobs).toEqual([]);
    expect(plan.keepPacks).toEqual([P('a'), P('b')]);
    expect(plan.lockedPacks.map((l) => [l.pack, l.until])).toEqual([
      [P('a'), until],
      [P('b'), until],
      [P('d'), until],
    ]);
    expect(plan.stats.bytesToDelete).toBe(BLOB + 100);
  });
});

describe('retain-until dates', () => {
  it('are whole UTC days: every write of one day gets the same date', () => {
    expect(retainUntil(new Date('2026-12-02T00:00:01Z'), 1).toISOString()).toBe('2026-12-04T00:00:00.000Z');
    expect(retainUntil(new Date('2026-12-02T23:59:59Z'), 1).toISOString()).toBe('2026-12-04T00:00:00.000Z');
    expect(retainUntil(new Date('2026-12-31T12:00:00Z'), 30).toISOString()).toBe('2027-01-31T00:00:00.000Z');
  });

  it('policies need a known mode and 1..3650 days', () => {
    expect(validateObjectLockPolicy({ mode: 'compliance', days: 30 })).toEqual({ mode: 'compliance', days: 30 });
    expect(() => validateObjectLockPolicy({ mode: 'strict' as never, days: 30 })).toThrow(/compliance or governance/);
    expect(() => validateObjectLockPolicy({ mode: 'governance', days: 0 })).toThrow(/1 to 3650/);
    expect(() => validateObjectLockPolicy({ mode: 'governance', days: 1.5 })).toThrow(/1 to 3650/);
  });
});
