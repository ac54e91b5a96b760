// Machine facts, free space, directory sizes, page-cache dropping.

import { statfsSync, writeFileSync, readFileSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { sh } from './proc.mjs';

export function machineInfo() {
  let osRelease = '';
  try {
    osRelease = /PRETTY_NAME="([^"]*)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '';
  } catch {
    /* not Linux */
  }
  return {
    host: os.hostname(),
    os: osRelease,
    kernel: os.release(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? '',
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
  };
}

/** Free bytes on the file system holding `dir`. */
export function freeBytes(dir) {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** { apparent, allocated } bytes of a directory tree, as `du -sb` and `du -s --block-size=1` report. */
export function du(dir) {
  const apparent = Number(sh('du', ['-sb', dir]).stdout.split(/\s/)[0]);
  const allocated = Number(sh('du', ['-s', '--block-size=1', dir]).stdout.split(/\s/)[0]);
  return { apparent: Number.isFinite(apparent) ? apparent : null, allocated: Number.isFinite(allocated) ? allocated : null };
}

/** Bytes and counts of what a backup of `dir` covers (regular files' sizes; dirs and symlinks counted). */
export async function treeStats(dir) {
  const st = { bytes: 0, files: 0, dirs: 0, symlinks: 0 };
  const walk = async (d) => {
    const ents = await readdir(d, { withFileTypes: true });
    for (const e of ents) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        st.dirs++;
        await walk(p);
      } else if (e.isSymbolicLink()) st.symlinks++;
      else if (e.isFile()) {
        st.files++;
        st.bytes += (await lstat(p)).size;
      }
    }
  };
  await walk(dir);
  return st;
}

let dropState = null; // null = untested
/** Whether `echo 3 > /proc/sys/vm/drop_caches` works here (tests it once by doing it). */
export function canDropCaches() {
  if (dropState === null) dropState = dropCaches(true);
  return dropState;
}

/** sync, then drop the page cache, dentries and inodes. Returns false when not permitted. */
export function dropCaches(force = false) {
  if (!force && dropState === false) return false;
  sh('sync', []);
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    return true;
  } catch {
    return false;
  }
}
