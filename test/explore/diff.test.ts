// diffSnapshots on crafted snapshot pairs: renames, content, type and mode changes, deep trees, and that equal subtrees are never loaded.
// Trees are hand-built so every change is known; tree loads are counted through a wrapping loader.

import { describe, expect, it } from 'vitest';
import type { Repository } from '../../src/repository/repository.js';
import { diffSnapshots, type DiffChange } from '../../src/snapshot/diff.js';
import type { TreeNode } from '../../src/tree/node.js';
import { memoryRepo } from '../helpers/repo.js';
import { bytes, countingRepo, dir, file, node, snapshot } from './helpers.js';

const lines = (cs: DiffChange[]) => cs.map((c) => `${c.modifier} ${c.path}`);

/** A directory chain depth levels deep with `width` files per level; the deepest file's content is `leaf`. */
async function deep(
  repo: Repository,
  name: string,
  depth: number,
  width: number,
  leaf: Buffer,
): Promise<TreeNode & { treeSize: number }> {
  const files = async (level: number) =>
    Promise.all(
      Array.from({ length: width }, (_, i) => file(repo, `f${level}-${i}`, [bytes(200, level * 100 + i + 1)])),
    );
  let cur = await dir(repo, `level${depth}`, [...(await files(depth)), await file(repo, 'leaf', [leaf])]);
  for (let l = depth - 1; l >= 1; l--) cur = await dir(repo, l === 1 ? name : `level${l}`, [...(await files(l)), cur]);
  return cur;
}

describe('diffSnapshots', () => {
  it('reports renames, modifications, type, mode and new directories, and skips equal subtrees', async () => {
    const { repo } = await memoryRepo({ compression: 'off' });
    const [X, Y, Z, W, V] = [1, 2, 3, 4, 5].map((s) => bytes(1000 * s, s));
    const big = await deep(repo, 'big', 6, 5, bytes(10, 99));
    const a = await snapshot(
      repo,
      [
        big,
        await dir(repo, 'docs', [await file(repo, 'guide', [Y]), await file(repo, 'readme', [X])]),
        await file(repo, 'f1', [X]),
        node('link', 'symlink', { linktarget: Buffer.from('f1') }),
        await file(repo, 'mode.txt', [V]),
      ],
      '2024-01-01T00:00:00Z',
    );
    const b = await snapshot(
      repo,
      [
        big,
        await dir(repo, 'docs', [await file(repo, 'guide2', [Y]), await file(repo, 'readme', [X])]),
        await file(repo, 'f1', [Z]),
        await file(repo, 'link', [W]),
        await file(repo, 'mode.txt', [V], { mode: 0o600 }),
        await dir(repo, 'newdir', [await file(repo, 'x', [bytes(77, 77)])]),
      ],
      '2024-01-02T00:00:00Z',
    );
    const { repo: counted, loads } = countingRepo(repo);
    const r = await diffSnapshots(counted, a, b);
    expect(lines(r.changes)).toEqual([
      '- /docs/guide',
      '+ /docs/guide2',
      'M /f1',
      'T /link',
      '+ /newdir/',
      '+ /newdir/x',
    ]);
    expect(r.treesLoaded).toBe(5); // two roots, two docs trees, newdir; nothing of big
    expect(loads).not.toContain(big.subtree);
    expect(r.stats.changedFiles).toBe(1);
    expect(r.stats.added).toMatchObject({ files: 2, dirs: 1, others: 0 });
    expect(r.stats.removed).toMatchObject({ files: 1, dirs: 0, others: 0 });
    // Data: Z, W and newdir/x are new; X moved out of f1 but readme (compared) still has it, so nothing is removed.
    expect(r.stats.added.dataBlobs).toBe(3);
    expect(r.stats.added.bytes - r.stats.removed.bytes).toBeGreaterThan(0);
    expect(r.stats.removed.dataBlobs).toBe(0);
    expect(r.stats.added.treeBlobs).toBe(3); // root, docs, newdir
    expect(r.stats.removed.treeBlobs).toBe(2); // root, docs

    const withMeta = await diffSnapshots(repo, a, b, { metadata: true });
    expect(lines(withMeta.changes)).toContain('U /mode.txt');
    const reverse = await diffSnapshots(repo, b, a);
    expect(lines(reverse.changes)).toEqual([
      '+ /docs/guide',
      '- /docs/guide2',
      'M /f1',
      'T /link',
      '- /newdir/',
      '- /newdir/x',
    ]);
  });

  it('loads two trees per level for one change at the bottom of a deep tree', async () => {
    const { repo } = await memoryRepo({ compression: 'off' });
    const a = await snapshot(repo, [await deep(repo, 'top', 12, 20, bytes(10, 1))], '2024-01-01T00:00:00Z');
    const b = await snapshot(repo, [await deep(repo, 'top', 12, 20, bytes(11, 2))], '2024-01-02T00:00:00Z');
    const r = await diffSnapshots(repo, a, b);
    expect(lines(r.changes)).toEqual([
      `M /top/${Array.from({ length: 11 }, (_, i) => `level${i + 2}`).join('/')}/leaf`,
    ]);
    expect(r.treesLoaded).toBe(2 * 13); // root + 12 levels, each side
    expect(r.stats.added).toMatchObject({ dataBlobs: 1, treeBlobs: 13, files: 0 });
    expect(r.stats.removed).toMatchObject({ dataBlobs: 1, treeBlobs: 13, files: 0 });
    expect(r.stats.changedFiles).toBe(1);
    const same = await diffSnapshots(repo, a, a);
    expect(same.changes).toEqual([]);
    expect(same.treesLoaded).toBe(0);
  });

  it('flags content changes with identical metadata as possible bit rot, and streams through onChange', async () => {
    const { repo } = await memoryRepo({ compression: 'off' });
    const a = await snapshot(
      repo,
      [await file(repo, 'data.bin', [bytes(500, 1)]), node('dev', 'chardev', { rdev: '1' })],
      '2024-01-01T00:00:00Z',
    );
    const b = await snapshot(
      repo,
      [await file(repo, 'data.bin', [bytes(500, 2)]), node('fifo', 'fifo')],
      '2024-01-02T00:00:00Z',
    );
    const seen: string[] = [];
    const r = await diffSnapshots(repo, a, b, {
      collect: false,
      onChange: (c) => void seen.push(`${c.modifier} ${c.path}`),
    });
    expect(r.changes).toEqual([]);
    expect(seen).toEqual(['M? /data.bin', '- /dev', '+ /fifo']);
    expect(r.stats.added.others).toBe(1);
    expect(r.stats.removed.others).toBe(1);
  });

  it('a directory replaced by a file lists the directory contents as removed', async () => {
    const { repo } = await memoryRepo({ compression: 'off' });
    const a = await snapshot(
      repo,
      [await dir(repo, 'x', [await file(repo, 'inner', [bytes(10, 1)])])],
      '2024-01-01T00:00:00Z',
    );
    const b = await snapshot(repo, [await file(repo, 'x', [bytes(10, 2)])], '2024-01-02T00:00:00Z');
    const r = await diffSnapshots(repo, a, b);
    expect(lines(r.changes)).toEqual(['T /x', '- /x/inner']);
    expect(r.stats.removed.files).toBe(1);
  });
});
