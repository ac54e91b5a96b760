// The tree-pack cache reads each pack once while it stays among the most recently used, drops the least
// recently used first, never keeps a failed read, and lets go of everything on clear().
import { describe, expect, it } from 'vitest';
import { TreePackCache } from '../../src/repository/tree-pack-cache.js';

function counted(fail: Set<string> = new Set()) {
  const reads: string[] = [];
  const load = (pack: string) => {
    reads.push(pack);
    return fail.has(pack) ? Promise.reject(new Error(`cannot read ${pack}`)) : Promise.resolve(Buffer.from(pack));
  };
  return { reads, load };
}

describe('TreePackCache', () => {
  it('reads a pack once while it is held, and drops the least recently used beyond its capacity', async () => {
    const { reads, load } = counted();
    const cache = new TreePackCache(load, 2);
    for (const p of ['a', 'b', 'a', 'c', 'a', 'b']) expect((await cache.get(p)).toString()).toBe(p);
    // 'b' was dropped when 'c' came in ('a' had been used more recently), so it is read again.
    expect(reads).toEqual(['a', 'b', 'c', 'b']);
  });

  it('does not keep a failed read', async () => {
    const fail = new Set(['x']);
    const { reads, load } = counted(fail);
    const cache = new TreePackCache(load);
    await expect(cache.get('x')).rejects.toThrow('cannot read x');
    fail.clear();
    expect((await cache.get('x')).toString()).toBe('x');
    expect(reads).toEqual(['x', 'x']);
  });

  it('clear() lets go of every pack', async () => {
    const { reads, load } = counted();
    const cache = new TreePackCache(load);
    await cache.get('a');
    cache.clear();
    await cache.get('a');
    expect(reads).toEqual(['a', 'a']);
  });
});
