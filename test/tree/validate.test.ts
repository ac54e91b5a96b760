// The shared node validation and graph measure (src/tree/validate*.ts) and dump's tar name guard, on forged
// trees: what is refused, what is read with defaults, and that measuring a 2^40-path DAG or 10,000 levels
// loads each distinct tree once.

import { describe, expect, it } from 'vitest';
import { TarNameGuard, encodeHeader } from '../../src/dump/tar.js';
import type { TreeNode } from '../../src/tree/node.js';
import type { Tree } from '../../src/tree/tree.js';
import {
  DEFAULT_TIME,
  MAX_DEPTH,
  MAX_EXPANSION,
  readableNodes,
  treeFaults,
  type NodeFault,
} from '../../src/tree/validate.js';
import { expansionRefusal, GraphMeasurer, shapesFromLoader } from '../../src/tree/validate-graph.js';
import { ValidatingReader } from '../../src/tree/validate-reader.js';

const T = '2021-06-07T08:09:10.123456789Z';
const SUB = 'ab'.repeat(32);

function n(name: string | Buffer, type: TreeNode['type'], extra: Partial<TreeNode> = {}): TreeNode {
  return {
    name: typeof name === 'string' ? Buffer.from(name) : name,
    type,
    mode: 0o644,
    mtime: T,
    ctime: T,
    uid: 0,
    gid: 0,
    ...extra,
  };
}

describe('treeFaults', () => {
  it('refuses unsafe names, every node of a duplicated name and type confusion; keeps good nodes', () => {
    const nodes = [
      n('..', 'file'),
      n('.', 'file'),
      n('', 'file'),
      n('a/b', 'file'),
      n('/abs', 'file'),
      n('x\0y', 'file'),
      n('d', 'symlink', { linktarget: Buffer.from('/etc') }),
      n('d', 'dir', { subtree: SUB }),
      n('f', 'file', { subtree: SUB }),
      n('p', 'fifo', { content: [SUB] }),
      n('s', 'symlink'),
      n('z', 'symlink', { linktarget: Buffer.from('a\0b') }),
      n('c', 'chardev', { rdev: 'garbage' }),
      n('m', 'file', { mode: 0o177777 }),
      n('u', 'file', { uid: -1 }),
      n('good', 'file'),
      n('dev', 'chardev', { rdev: '259' }),
    ];
    const faults = treeFaults({ nodes }, 'T1');
    const refused = faults.filter((f) => f.refused).map((f) => `${f.name.toString()}:${f.kind}`);
    expect(refused).toEqual([
      '..:name',
      '.:name',
      ':name',
      'a/b:name',
      '/abs:name',
      'x\0y:name',
      'd:duplicate',
      'd:duplicate',
      'f:type',
      'p:type',
      's:type',
      'z:type',
      'c:type',
      'm:metadata',
      'u:metadata',
    ]);
    expect(faults.every((f) => f.tree === 'T1')).toBe(true);
    const kept = readableNodes({ nodes }, 'T1', () => undefined).map((x) => x.name.toString());
    expect(kept).toEqual(['good', 'dev']);
  });

  it('reads nodes with bad times with the epoch instead, reporting each once', () => {
    const heard: NodeFault[] = [];
    const nodes = [
      n('f', 'file', { mtime: 'garbage', atime: '2021-13-45T99:99:99Z' }),
      n('g', 'dir', { subtree: SUB, ctime: '' }),
      n('ok', 'file'),
    ];
    const out = readableNodes({ nodes }, 'T2', (f) => heard.push(f));
    expect(heard.map((f) => [f.name.toString(), f.kind, f.refused])).toEqual([
      ['f', 'time', false],
      ['g', 'time', false],
    ]);
    expect(heard[0].message).toContain('"garbage"');
    expect(out.map((x) => [x.name.toString(), x.mtime, x.atime, x.ctime])).toEqual([
      ['f', DEFAULT_TIME, DEFAULT_TIME, T],
      ['g', T, undefined, DEFAULT_TIME],
      ['ok', T, undefined, T],
    ]);
    expect(out[2]).toBe(nodes[2]); // good nodes are not copied
  });
});

describe('GraphMeasurer', () => {
  it('measures a DAG of 41 trees expanding to 2^40 paths with 41 loads', async () => {
    const trees = new Map<string, Tree>();
    let loads = 0;
    trees.set('t0', { nodes: [n('leaf', 'file')] });
    for (let i = 1; i <= 40; i++)
      trees.set(`t${i}`, { nodes: [n('a', 'dir', { subtree: `t${i - 1}` }), n('b', 'dir', { subtree: `t${i - 1}` })] });
    const m = new GraphMeasurer(
      shapesFromLoader(async (id) => {
        loads++;
        return trees.get(id)!;
      }),
    );
    const size = await m.measure('t40');
    expect(size.depth).toBe(41);
    expect(size.entries).toBe(2 ** 41 - 2 + 2 ** 40); // 2 + 4 + … + 2^40 directories, 2^40 leaves
    expect(loads).toBe(41);
    expect(expansionRefusal(size)).toContain(String(MAX_EXPANSION));
    expect(expansionRefusal(await m.measure('t20'))).toBeUndefined(); // 2^20 leaves: within the bound, from memory
    expect(loads).toBe(41);
  });

  it('measures 10,000 levels without recursion and counts a missing tree as empty', async () => {
    const m = new GraphMeasurer(
      shapesFromLoader(async (id) => {
        const i = Number(id.slice(1));
        if (i === 10_000) throw new Error('missing');
        return { nodes: [n('d', 'dir', { subtree: `c${i + 1}` })] };
      }),
    );
    expect(await m.measure('c0')).toEqual({ entries: 10_000, depth: 10_000 });
  });

  it('lets a reader refuse deeper than MAX_DEPTH and name tree and snapshot', async () => {
    const lines: string[] = [];
    const r = new ValidatingReader(
      async () => ({ nodes: [n('..', 'file'), n('ok', 'file')] }),
      (l) => lines.push(l),
    );
    r.snapshot = 'cafebabe12345678';
    expect((await r.nodes('T3', '/a')).map((x) => x.name.toString())).toEqual(['ok']);
    expect(await r.nodes('T4', '/d'.repeat(MAX_DEPTH))).toEqual([]);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^snapshot cafebabe \/a: tree T3 node "\.\.": unsafe name/);
    expect(lines[1]).toContain(`deeper than ${MAX_DEPTH} levels`);
    expect(r.faults).toBe(2);
  });
});

describe('TarNameGuard', () => {
  it('refuses absolute names, dot components and paths through a symlink member', () => {
    const g = new TarNameGuard();
    for (const bad of ['/etc/passwd', '../x', 'a/../../x', 'a/./b', 'a//b', '', 'a/..'])
      expect(g.refusal(Buffer.from(bad), 'file'), bad).toBeDefined();
    expect(g.refusal(Buffer.from('d'), 'symlink')).toBeUndefined();
    g.written(Buffer.from('d'), 'symlink');
    expect(g.refusal(Buffer.from('d/file'), 'file')).toContain('symlink');
    expect(g.refusal(Buffer.from('d'), 'dir')).toContain('symlink');
    expect(g.refusal(Buffer.from('dd/file'), 'file')).toBeUndefined();
  });

  it('never gives a pax-unaware reader a fallback name with a ".." component or a leading "/"', () => {
    const names = ['\u00e9'.repeat(200), '\u00e9/'.repeat(60) + 'x', 'x'.repeat(99) + '/..\u00e9'];
    for (let k = 0; k < 4; k++)
      names.push('b'.repeat(k) + 'a../'.repeat(40) + '\u00e9', 'b'.repeat(k) + '/a..'.repeat(40).slice(1) + '\u00e9/');
    for (const name of names) {
      const h = encodeHeader({ name: Buffer.from(name), type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 0 });
      const main = h.subarray(h.length - 512);
      const ustar = Buffer.concat([main.subarray(345, 500), main.subarray(0, 100)])
        .toString('latin1')
        .replace(/\0/g, '');
      expect(ustar.startsWith('/'), ustar).toBe(false);
      expect(ustar.split('/').includes('..'), ustar).toBe(false);
    }
  });
});
