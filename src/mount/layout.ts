// The directories above the snapshots in a mount (restic's layout): `ids/%i`, `snapshots/%T`, `hosts/%h/%T`,
// `tags/%t/%T`, with a `latest` link where %T starts. Pure: snapshots and templates in, a directory tree out.

import { RepoError } from '../core/errors.js';
import { shortId } from '../core/id.js';
import type { StoredSnapshot } from '../snapshot/snapshot.js';
import { rfc3339ToNs } from '../tree/time.js';
import { formatTime } from './time-template.js';

export const DEFAULT_PATH_TEMPLATES = ['ids/%i', 'snapshots/%T', 'hosts/%h/%T', 'tags/%t/%T'];

export interface LayoutDir {
  kind: 'dir';
  children: Map<string, LayoutEntry>;
  /** The newest snapshot time below it (ns), shown as its mtime. */
  timeNs: bigint;
}
export interface LayoutSnapshot {
  kind: 'snapshot';
  snapshot: StoredSnapshot;
  timeNs: bigint;
}
export interface LayoutLink {
  kind: 'link';
  target: string;
  timeNs: bigint;
}
export type LayoutEntry = LayoutDir | LayoutSnapshot | LayoutLink;

/** A name a directory entry may have: no "/", not empty, not "." or "..". */
function safeComponent(s: string): string {
  const clean = s.replace(/[/\0]/g, '_');
  return clean === '' || clean === '.' || clean === '..' ? '_' : clean;
}

/** Refuses templates restic would refuse: unknown %-codes, absolute paths, empty components. */
export function checkPathTemplate(t: string): void {
  const bad = /%[^iIuhtT%]|%$/.exec(t);
  if (bad !== null)
    throw new RepoError('INVALID_ARGUMENT', `--path-template ${JSON.stringify(t)}: unknown pattern ${bad[0]}`);
  if (t.startsWith('/') || t.split('/').some((c) => c === '' || c === '.' || c === '..'))
    throw new RepoError(
      'INVALID_ARGUMENT',
      `--path-template ${JSON.stringify(t)} must be a relative path without empty, "." or ".." components`,
    );
  if (t.indexOf('%T') > 0 && !t.slice(0, t.indexOf('%T')).endsWith('/'))
    throw new RepoError('INVALID_ARGUMENT', `--path-template ${JSON.stringify(t)}: %T must start a path component`);
}

/**
 * The paths one template gives a snapshot (one per tag for %t; none when %t meets a snapshot without tags),
 * each with the expansion of the part before %T (where `latest` goes).
 */
function expand(template: string, sn: StoredSnapshot, time: string): { path: string; beforeTime?: string }[] {
  const tags = template.includes('%t') ? sn.tags : [''];
  const at = template.indexOf('%T');
  return tags.map((tag) => ({
    path: render(template, sn, time, tag),
    beforeTime: at < 0 ? undefined : render(template.slice(0, at), sn, time, tag),
  }));
}

function render(template: string, sn: StoredSnapshot, time: string, tag: string): string {
  return template.replace(/%[iIuhtT%]/g, (code) => {
    switch (code) {
      case '%i':
        return shortId(sn.id);
      case '%I':
        return sn.id;
      case '%u':
        return safeComponent(sn.username);
      case '%h':
        return safeComponent(sn.hostname);
      case '%t':
        return safeComponent(tag);
      case '%T':
        return time; // may hold "/" on purpose (e.g. "2006/01/02")
      default:
        return '%';
    }
  });
}

function newDir(): LayoutDir {
  return { kind: 'dir', children: new Map(), timeNs: 0n };
}

/** The directory at `parts` below `root`, created as needed; undefined where a non-directory is in the way. */
function dirAt(root: LayoutDir, parts: string[], timeNs: bigint): LayoutDir | undefined {
  let dir = root;
  if (timeNs > dir.timeNs) dir.timeNs = timeNs;
  for (const p of parts) {
    let next = dir.children.get(p);
    if (next === undefined) {
      next = newDir();
      dir.children.set(p, next);
    }
    if (next.kind !== 'dir') return undefined;
    if (timeNs > next.timeNs) next.timeNs = timeNs;
    dir = next;
  }
  return dir;
}

/**
 * The tree of the mount's top directories. `snapshots` must be sorted oldest first: a name two snapshots share
 * goes to the older, the newer ones get "-1", "-2" … appended (as restic names them), and `latest` names the
 * newest snapshot of each directory a %T expansion starts in.
 */
export function buildLayout(snapshots: StoredSnapshot[], templates: string[], timeTemplate: string): LayoutDir {
  const root = newDir();
  for (const t of templates) dirAt(root, t.split('/')[0].includes('%') ? [] : [t.split('/')[0]], 0n);
  for (const sn of snapshots) {
    const timeNs = rfc3339ToNs(sn.time);
    const time = formatTime(timeTemplate, sn.time);
    for (const t of templates) {
      for (const { path, beforeTime } of expand(t, sn, time)) {
        const parts = path.split('/').map((p, i, all) => (i < all.length - 1 || p !== '' ? p : '_'));
        const leafName = parts.pop()!;
        const dir = dirAt(root, parts, timeNs);
        if (dir === undefined) continue;
        let name = leafName;
        for (let i = 1; dir.children.has(name) || name === 'latest'; i++) name = `${leafName}-${i}`;
        dir.children.set(name, { kind: 'snapshot', snapshot: sn, timeNs });
        if (beforeTime !== undefined) {
          // `latest` sits where the time starts and points down to this (newest so far) snapshot.
          const linkParts = beforeTime.split('/').filter((p) => p !== '');
          const linkDir = dirAt(root, linkParts, timeNs);
          const target = [...parts.slice(linkParts.length), name].join('/');
          linkDir?.children.set('latest', { kind: 'link', target, timeNs });
        }
      }
    }
  }
  return root;
}

/** The entry at a '/'-free list of names below `root`, or undefined. */
export function layoutEntry(root: LayoutDir, parts: readonly string[]): LayoutEntry | undefined {
  let e: LayoutEntry = root;
  for (const p of parts) {
    if (e.kind !== 'dir') return undefined;
    const next = e.children.get(p);
    if (next === undefined) return undefined;
    e = next;
  }
  return e;
}
