// The mount's top directories from snapshots and templates (restic's layout and naming), and Go-style time
// templates, as pure functions.
import { describe, expect, it } from 'vitest';
import {
  buildLayout,
  checkPathTemplate,
  DEFAULT_PATH_TEMPLATES,
  layoutEntry,
  type LayoutDir,
} from '../../src/mount/layout.js';
import { checkTimeTemplate, DEFAULT_TIME_TEMPLATE, formatTime } from '../../src/mount/time-template.js';
import type { StoredSnapshot } from '../../src/snapshot/snapshot.js';

function snap(id: string, time: string, hostname: string, tags: string[]): StoredSnapshot {
  return { id, time, hostname, tags, tree: 'ab'.repeat(32), paths: ['/x'], username: 'me', program_version: 't' };
}

const names = (root: LayoutDir, path: string) => {
  const e = layoutEntry(root, path === '' ? [] : path.split('/'));
  return e?.kind === 'dir' ? [...e.children.keys()].sort() : e;
};

describe('buildLayout', () => {
  const a = snap('a1'.repeat(32), '2026-01-02T03:04:05.5+01:00', 'h1', ['x', 'y/z']);
  const b = snap('b2'.repeat(32), '2026-01-02T03:04:05.9+01:00', 'h2', ['x']);
  const c = snap('c3'.repeat(32), '2026-02-01T00:00:00Z', 'h1', []);
  const root = buildLayout([a, b, c], DEFAULT_PATH_TEMPLATES, DEFAULT_TIME_TEMPLATE);

  it('has ids, snapshots, hosts and tags with restic names, suffixes and latest links', () => {
    expect(names(root, '')).toEqual(['hosts', 'ids', 'snapshots', 'tags']);
    expect(names(root, 'ids')).toEqual(['a1a1a1a1', 'b2b2b2b2', 'c3c3c3c3']);
    expect(names(root, 'snapshots')).toEqual([
      '2026-01-02T03:04:05+01:00',
      '2026-01-02T03:04:05+01:00-1',
      '2026-02-01T00:00:00Z',
      'latest',
    ]);
    expect(layoutEntry(root, ['snapshots', 'latest'])).toMatchObject({ kind: 'link', target: '2026-02-01T00:00:00Z' });
    expect(names(root, 'hosts')).toEqual(['h1', 'h2']);
    expect(layoutEntry(root, ['hosts', 'h1', 'latest'])).toMatchObject({ target: '2026-02-01T00:00:00Z' });
    expect(layoutEntry(root, ['hosts', 'h2', 'latest'])).toMatchObject({ target: '2026-01-02T03:04:05+01:00' });
    // "/" in a tag becomes "_"; a snapshot without tags is under no tag.
    expect(names(root, 'tags')).toEqual(['x', 'y_z']);
    expect(layoutEntry(root, ['tags', 'x', 'latest'])).toMatchObject({ target: '2026-01-02T03:04:05+01:00-1' });
    expect(layoutEntry(root, ['snapshots', '2026-01-02T03:04:05+01:00-1'])).toMatchObject({
      kind: 'snapshot',
      snapshot: { id: b.id },
    });
  });

  it('nests a time template with "/" and puts latest where the time starts', () => {
    const r = buildLayout([a, c], ['by-host/%h/%T'], '2006/01/02_150405');
    expect(names(r, 'by-host/h1')).toEqual(['2026', 'latest']);
    expect(layoutEntry(r, ['by-host', 'h1', 'latest'])).toMatchObject({ target: '2026/02/01_000000' });
    expect(layoutEntry(r, ['by-host', 'h1', '2026', '01', '02_030405'])).toMatchObject({ kind: 'snapshot' });
  });

  it('refuses templates restic refuses', () => {
    expect(() => checkPathTemplate('ids/%x')).toThrow(/unknown pattern/);
    expect(() => checkPathTemplate('/abs/%T')).toThrow(/relative/);
    expect(() => checkPathTemplate('a/b%T')).toThrow(/start a path component/);
    expect(() => checkTimeTemplate('plain')).toThrow(/names no part/);
    expect(() => checkTimeTemplate('2006//01')).toThrow(/empty/);
  });
});

describe('formatTime (Go layouts)', () => {
  it.each([
    ['2006-01-02T15:04:05Z07:00', '2026-03-04T05:06:07.123456789Z', '2026-03-04T05:06:07Z'],
    ['2006-01-02T15:04:05Z07:00', '2026-03-04T05:06:07-07:30', '2026-03-04T05:06:07-07:30'],
    ['2006-01-02_15-04-05', '2026-03-04T05:06:07+02:00', '2026-03-04_05-06-07'],
    ['Mon Jan _2 3:04PM MST', '2026-03-04T15:06:07Z', 'Wed Mar  4 3:06PM Z'],
    ['January 2, 06 15:04:05.000', '2026-12-25T23:59:58.0456Z', 'December 25, 26 23:59:58.045'],
    ['2006-002 .999999999 -0700', '2026-02-01T00:00:00.5-01:00', '2026-032 .5 -0100'],
  ])('%s of %s', (template, time, want) => {
    expect(formatTime(template, time)).toBe(want);
  });
});
