// Lists the regular files under the paths `repo analyze` is given, as a backup would read them (symlinks not followed).
// Never reads file contents and never writes; a file reachable twice (hard links, overlapping paths) is listed once.

import fs from 'node:fs';
import type { BigIntStats } from 'node:fs';
import path from 'node:path';
import { describeFsError } from '../archiver/state.js';

export interface FileJob {
  /** Absolute path as bytes (names need not be UTF-8). */
  path: Buffer;
  size: number;
  /** Indexes of the PATH arguments (successive snapshots) that contain this file, ascending. */
  snaps: number[];
}

export interface SourceWarning {
  path: string;
  message: string;
}

export interface SourceList {
  jobs: FileJob[];
  /** Per PATH argument: the absolute path and how many files it holds (a shared file counts in each). */
  roots: { path: string; files: number }[];
  warnings: SourceWarning[];
}

const SLASH = Buffer.from('/');

/** Walks every root; files come out largest first, so that workers finish at about the same time. */
export async function listSources(paths: string[], signal?: AbortSignal): Promise<SourceList> {
  const byInode = new Map<string, FileJob>();
  const warnings: SourceWarning[] = [];
  const roots: SourceList['roots'] = [];
  const walk = async (abs: Buffer, st: BigIntStats, snap: number): Promise<number> => {
    if (signal?.aborted) throw signal.reason;
    if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const known = byInode.get(key);
      if (known === undefined) byInode.set(key, { path: abs, size: Number(st.size), snaps: [snap] });
      else if (!known.snaps.includes(snap)) known.snaps.push(snap);
      return 1;
    }
    if (!st.isDirectory()) return 0;
    let names: Buffer[];
    try {
      names = await fs.promises.readdir(abs, { encoding: 'buffer' });
    } catch (err) {
      warnings.push({ path: abs.toString('utf8'), message: `cannot read directory: ${describeFsError(err)}` });
      return 0;
    }
    let files = 0;
    for (const name of names.sort(Buffer.compare)) {
      const child = Buffer.concat([abs, abs[abs.length - 1] === 0x2f ? Buffer.alloc(0) : SLASH, name]);
      let cst: BigIntStats;
      try {
        cst = await fs.promises.lstat(child, { bigint: true });
      } catch (err) {
        warnings.push({ path: child.toString('utf8'), message: `cannot stat: ${describeFsError(err)}` });
        continue;
      }
      files += await walk(child, cst, snap);
    }
    return files;
  };
  for (const [i, p] of paths.entries()) {
    const abs = path.resolve(p);
    let st: BigIntStats;
    try {
      st = await fs.promises.lstat(abs, { bigint: true });
    } catch (err) {
      warnings.push({ path: abs, message: `cannot stat: ${describeFsError(err)}` });
      roots.push({ path: abs, files: 0 });
      continue;
    }
    roots.push({ path: abs, files: await walk(Buffer.from(abs), st, i) });
  }
  const jobs = [...byInode.values()].sort((a, b) => b.size - a.size);
  return { jobs, roots, warnings };
}
