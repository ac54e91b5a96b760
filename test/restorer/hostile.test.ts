// Restorer tests with hostile snapshots and targets: unsafe names, duplicate names, symlinks pointing outside,
// pre-existing symlinks and hard links in the target. The invariant: nothing outside the target ever changes.

import { existsSync } from 'node:fs';
import { link, lstat, mkdir, readdir, readFile, readlink, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Repository } from '../../src/repository/repository.js';
import { FormatError } from '../../src/core/errors.js';
import { nodeTimeSeconds } from '../../src/restorer/metadata.js';
import { restoreSnapshot } from '../../src/restorer/index.js';
import { nsToRfc3339, rfc3339ToNs } from '../../src/tree/time.js';
import { dirNode, fileNode, newRepo, node, rawNode, rawTree, snapshotOf, tempDir } from './helpers.js';

let repo: Repository;
let tmp: { dir: string; cleanup: () => Promise<void> };
let target: string;
let outside: string;

beforeEach(async () => {
  ({ repo } = await newRepo());
  tmp = await tempDir();
  target = join(tmp.dir, 'target');
  outside = join(tmp.dir, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'secret'), 'original');
});
afterEach(async () => {
  await tmp.cleanup();
});

async function outsideUnchanged(): Promise<void> {
  expect(await readdir(outside)).toEqual(['secret']);
  expect(await readFile(join(outside, 'secret'), 'utf8')).toBe('original');
  expect((await readdir(tmp.dir)).filter((n) => n !== 'target' && n !== 'outside')).toEqual([]);
}

describe('hostile snapshots', () => {
  for (const [label, bad] of [
    ['..', '..'],
    ['.', '.'],
    ['empty', ''],
    ['a/b', 'a/b'],
    ['NUL', 'x\u0000y'],
    ['../secret', '../secret'],
  ] as const) {
    it(`refuses a node named ${label}, naming snapshot, tree and node, and restores the rest`, async () => {
      const sub = await rawTree(repo, [rawNode(bad, 'file', { content: [] }), rawNode('ok', 'file', { content: [] })]);
      const root = await rawTree(repo, [
        rawNode('d', 'dir', { subtree: sub }),
        rawNode('early', 'file', { content: [] }),
      ]);
      const sn = await snapshotOf(repo, root);
      const warnings: string[] = [];
      const r = await restoreSnapshot(repo, sn, { target, onWarning: (w) => warnings.push(w.message) });
      expect(r.refused).toBe(1);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(sn.id.slice(0, 8));
      expect(warnings[0]).toContain(sub);
      expect(warnings[0]).toContain(JSON.stringify(bad));
      expect((await readdir(target)).sort()).toEqual(['d', 'early']);
      expect(await readdir(join(target, 'd'))).toEqual(['ok']);
      await outsideUnchanged();
    });
  }

  it('refuses a raw (base64) name that decodes to ..', async () => {
    const root = await rawTree(repo, [
      { ...rawNode('', 'file', { content: [] }), name: undefined, name_raw: Buffer.from('..').toString('base64') },
    ]);
    const r = await restoreSnapshot(repo, await snapshotOf(repo, root), { target });
    expect(r.refused).toBe(1);
    expect(r.files).toBe(0);
    await outsideUnchanged();
  });

  it('refuses both nodes when a symlink and a directory share a name', async () => {
    const inner = await rawTree(repo, [rawNode('secret', 'file', { content: [] })]);
    const root = await rawTree(repo, [
      rawNode('esc', 'symlink', { linktarget: '../outside' }),
      rawNode('esc', 'dir', { subtree: inner }),
    ]);
    const warnings: string[] = [];
    const r = await restoreSnapshot(repo, await snapshotOf(repo, root), {
      target,
      onWarning: (w) => warnings.push(w.message),
    });
    expect(r.refused).toBe(2);
    expect(warnings.every((w) => w.includes('"esc"'))).toBe(true);
    expect(existsSync(join(target, 'esc'))).toBe(false);
    await outsideUnchanged();
  });

  it('refuses a DAG of 41 trees expanding to 2^40 paths before planning, naming snapshot and tree', async () => {
    let t = await rawTree(repo, [rawNode('leaf', 'file', { content: [] })]);
    for (let i = 0; i < 40; i++)
      t = await rawTree(repo, [rawNode('a', 'dir', { subtree: t }), rawNode('b', 'dir', { subtree: t })]);
    const sn = await snapshotOf(repo, t);
    const err = await restoreSnapshot(repo, sn, { target }).catch((e) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect(err.message).toContain(sn.id.slice(0, 8));
    expect(err.message).toContain(t);
    expect(err.message).toContain('beyond the bound');
    expect(existsSync(target)).toBe(false);
  });

  it('restores the rest of a tree whose subtree is missing or cannot be decoded', async () => {
    const weird = await rawTree(repo, [rawNode('w', 'weird')]);
    const root = await rawTree(repo, [
      rawNode('gone', 'dir', { subtree: 'ee'.repeat(32) }),
      rawNode('odd', 'dir', { subtree: weird }),
      rawNode('ok', 'file', { content: [] }),
    ]);
    const warnings: string[] = [];
    const r = await restoreSnapshot(repo, await snapshotOf(repo, root), {
      target,
      onWarning: (w) => warnings.push(w.message),
    });
    expect(r.refused).toBe(2);
    expect(warnings.some((w) => w.includes('ee'.repeat(32)))).toBe(true);
    expect(warnings.some((w) => w.includes(weird))).toBe(true);
    expect((await readdir(target)).sort()).toEqual(['gone', 'odd', 'ok']);
    await outsideUnchanged();
  });

  it('restores symlinks pointing outside as links, never writing through them', async () => {
    const sn1 = await snapshotOf(repo, [
      node('esc', 'symlink', { linktarget: Buffer.from('../outside') }),
      node('abs', 'symlink', { linktarget: Buffer.from(outside) }),
      node('etc', 'symlink', { linktarget: Buffer.from('../../etc') }),
    ]);
    await restoreSnapshot(repo, sn1, { target });
    expect(await readlink(join(target, 'esc'))).toBe('../outside');
    expect(await readlink(join(target, 'abs'))).toBe(outside);

    // A later snapshot has directories with those names; restoring over the links must replace them.
    const secret = await fileNode(repo, 'secret', Buffer.from('evil'));
    const sn2 = await snapshotOf(repo, [
      await dirNode(repo, 'esc', [secret]),
      await dirNode(repo, 'abs', [secret]),
      await fileNode(repo, 'etc', Buffer.from('file now')),
    ]);
    const warnings: string[] = [];
    const never = await restoreSnapshot(repo, sn2, {
      target,
      overwrite: 'never',
      onWarning: (w) => warnings.push(w.path),
    });
    expect(never.files).toBe(0);
    expect(warnings.length).toBe(2);
    expect((await lstat(join(target, 'esc'))).isSymbolicLink()).toBe(true);
    await outsideUnchanged();

    await restoreSnapshot(repo, sn2, { target, overwrite: 'always' });
    expect((await lstat(join(target, 'esc'))).isDirectory()).toBe(true);
    expect(await readFile(join(target, 'esc', 'secret'), 'utf8')).toBe('evil');
    expect((await lstat(join(target, 'abs'))).isDirectory()).toBe(true);
    expect((await lstat(join(target, 'etc'))).isFile()).toBe(true);
    await outsideUnchanged();
  });

  it('replaces a pre-existing symlink or hard link in the target instead of writing through it', async () => {
    await mkdir(join(target, 'dir'), { recursive: true });
    await symlink(join(outside, 'secret'), join(target, 'dir', 'viaSymlink'));
    await link(join(outside, 'secret'), join(target, 'dir', 'viaHardlink'));
    await symlink(outside, join(target, 'dirLink'));
    const sn = await snapshotOf(repo, [
      await dirNode(repo, 'dir', [
        await fileNode(repo, 'viaSymlink', Buffer.from('new content 1')),
        await fileNode(repo, 'viaHardlink', Buffer.from('new content 2')),
      ]),
      await dirNode(repo, 'dirLink', [await fileNode(repo, 'secret', Buffer.from('evil'))]),
    ]);
    for (const overwrite of ['never', 'if-changed', 'always'] as const) {
      await restoreSnapshot(repo, sn, { target, overwrite });
      await outsideUnchanged();
    }
    expect((await lstat(join(target, 'dir', 'viaSymlink'))).isFile()).toBe(true);
    expect(await readFile(join(target, 'dir', 'viaSymlink'), 'utf8')).toBe('new content 1');
    expect(await readFile(join(target, 'dir', 'viaHardlink'), 'utf8')).toBe('new content 2');
    expect((await stat(join(target, 'dir', 'viaHardlink'))).nlink).toBe(1);
    expect((await lstat(join(target, 'dirLink'))).isDirectory()).toBe(true);
  });

  it('does not delete a non-empty directory that is in the way of a file', async () => {
    await mkdir(join(target, 'x'), { recursive: true });
    await writeFile(join(target, 'x', 'keep'), 'keep');
    const sn = await snapshotOf(repo, [await fileNode(repo, 'x', Buffer.from('file'))]);
    const warnings: string[] = [];
    const r = await restoreSnapshot(repo, sn, { target, onWarning: (w) => warnings.push(w.message) });
    expect(r.warnings).toBe(1);
    expect(await readFile(join(target, 'x', 'keep'), 'utf8')).toBe('keep');
  });
});

describe('time conversion', () => {
  it('sets times to within a microsecond for many fractions', async () => {
    const f = join(tmp.dir, 'f');
    await writeFile(f, '');
    const base = rfc3339ToNs('2024-05-06T07:08:09Z');
    for (const frac of [0n, 1n, 499n, 500n, 999n, 999_999n, 123_456_789n, 999_999_499n, 999_999_999n, 555_555_555n]) {
      const t = nsToRfc3339(base + frac);
      await utimes(f, nodeTimeSeconds(t), nodeTimeSeconds(t));
      const st = await stat(f, { bigint: true });
      const d = st.mtimeNs - (base + frac);
      expect(d >= -500n && d <= 500n, `${t}: off by ${d} ns`).toBe(true);
    }
  });
});
