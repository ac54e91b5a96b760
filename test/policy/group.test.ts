// groupSnapshots: --group-by host/paths/tags variants, set comparison, deterministic group order, no mutation.
// Groups must not depend on input order.
import { describe, expect, it } from 'vitest';
import { applyPolicy, formatGroupKey, groupSnapshots, parseGroupBy } from '../../src/policy/index.js';

const S = (id: string, hostname: string, paths: string[], tags: string[] = []) => ({
  id,
  time: `2024-01-0${id.slice(1)}T00:00:00Z`,
  hostname,
  paths,
  tags,
});
const LIST = [
  S('s1', 'beta', ['/home', '/etc'], ['daily']),
  S('s2', 'alpha', ['/etc', '/home'], []),
  S('s3', 'beta', ['/etc', '/home'], ['manual', 'daily']),
  S('s4', 'alpha', ['/srv'], ['daily']),
  S('s5', 'alpha', ['/etc', '/home', '/etc'], ['daily', 'manual']),
];

const view = (groupBy: string) =>
  groupSnapshots(LIST, parseGroupBy(groupBy)).map((g) => [g.key, g.snapshots.map((s) => s.id)]);

describe('groupSnapshots', () => {
  it('default host,paths: paths compared as sorted sets', () => {
    expect(view('host,paths')).toEqual([
      [{ hostname: 'alpha', paths: ['/etc', '/home'] }, ['s2', 's5']],
      [{ hostname: 'alpha', paths: ['/srv'] }, ['s4']],
      [{ hostname: 'beta', paths: ['/etc', '/home'] }, ['s1', 's3']],
    ]);
  });

  it('host only', () => {
    expect(view('host')).toEqual([
      [{ hostname: 'alpha' }, ['s2', 's4', 's5']],
      [{ hostname: 'beta' }, ['s1', 's3']],
    ]);
  });

  it('paths only', () => {
    expect(view('paths')).toEqual([
      [{ paths: ['/etc', '/home'] }, ['s1', 's2', 's3', 's5']],
      [{ paths: ['/srv'] }, ['s4']],
    ]);
  });

  it('tags: compared as sorted sets; untagged is its own group', () => {
    expect(view('tags')).toEqual([
      [{ tags: [] }, ['s2']],
      [{ tags: ['daily'] }, ['s1', 's4']],
      [{ tags: ['daily', 'manual'] }, ['s3', 's5']],
    ]);
  });

  it('host,paths,tags', () => {
    expect(view('host,paths,tags').map(([, ids]) => ids)).toEqual([['s2'], ['s5'], ['s4'], ['s1'], ['s3']]);
  });

  it("'' → one group holding everything", () => {
    expect(view('')).toEqual([[{}, ['s1', 's2', 's3', 's4', 's5']]]);
    expect(groupSnapshots([], [])).toEqual([]);
  });

  it('group order does not depend on input order', () => {
    const a = groupSnapshots(LIST, ['host', 'paths']).map((g) => g.key);
    const b = groupSnapshots([...LIST].reverse(), ['host', 'paths']).map((g) => g.key);
    expect(b).toEqual(a);
  });

  it('does not mutate snapshots', () => {
    const copy = JSON.parse(JSON.stringify(LIST));
    groupSnapshots(LIST, ['host', 'paths', 'tags']);
    expect(LIST).toEqual(copy);
  });

  it('formats keys like restic', () => {
    expect(formatGroupKey({ hostname: 'alpha', paths: ['/etc', '/home'], tags: ['x'] })).toBe(
      'host alpha, path [/etc /home], tags [x]',
    );
    expect(formatGroupKey({})).toBe('');
  });

  it('a policy is applied per group', () => {
    const out = groupSnapshots(LIST, ['host']).map((g) => applyPolicy(g.snapshots, { last: 1 }).keep.map((s) => s.id));
    expect(out).toEqual([['s5'], ['s3']]);
  });
});
