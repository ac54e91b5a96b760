// Machine facts, free space, directory sizes, page-cache dropping and warming, atimes.

import { constants as fsConstants, existsSync, readFileSync, realpathSync, statfsSync, writeFileSync } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
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
  return {
    apparent: Number.isFinite(apparent) ? apparent : null,
    allocated: Number.isFinite(allocated) ? allocated : null,
  };
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

/**
 * Apparent bytes of a directory tree and of each of its top-level entries (`du -ab --max-depth=1`):
 * { total, entries: { name: bytes } }. Used before/after a backup to see what the repository grew by.
 */
export function duEntries(dir) {
  const r = sh('du', ['-ab', '--max-depth=1', dir]);
  const out = { total: null, entries: {} };
  for (const line of r.stdout.split('\n')) {
    const m = /^(\d+)\t(.*)$/.exec(line);
    if (!m) continue;
    if (m[2] === dir) out.total = Number(m[1]);
    else out.entries[m[2].slice(dir.length + 1)] = Number(m[1]);
  }
  return out;
}

/** What a directory grew by between two duEntries(): { bytes, entries: { name: delta } } (non-zero deltas only). */
export function duGrowth(before, after) {
  if (before.total == null || after.total == null) return null;
  const entries = {};
  for (const k of new Set([...Object.keys(before.entries), ...Object.keys(after.entries)])) {
    const d = (after.entries[k] ?? 0) - (before.entries[k] ?? 0);
    if (d) entries[k] = d;
  }
  return { bytes: after.total - before.total, entries };
}

/** Relative paths of the regular files under `dir` (symlinks are not followed). */
export async function listFiles(dir) {
  const out = [];
  const walk = async (rel) => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const r = rel ? join(rel, e.name) : e.name;
      if (e.isDirectory()) await walk(r);
      else if (e.isFile()) out.push(r);
    }
  };
  await walk('');
  return out;
}

/**
 * Reads every regular file under each of `dirs` to the end. noatime: open with O_NOATIME (falling
 * back to a plain open where the kernel refuses it) so the reads leave atimes alone; without it,
 * a plain read, which updates atimes as the mount's atime policy says. Returns { files, bytes, seconds }.
 */
export async function readEveryFile(dirs, { noatime = false } = {}) {
  const t0 = process.hrtime.bigint();
  const jobs = [];
  for (const d of dirs) {
    if (!existsSync(d)) continue;
    for (const f of await listFiles(d)) jobs.push(join(d, f));
  }
  const plain = fsConstants.O_RDONLY;
  const flags = noatime && fsConstants.O_NOATIME ? plain | fsConstants.O_NOATIME : plain;
  let files = 0;
  let bytes = 0;
  let next = 0;
  const worker = async () => {
    const buf = Buffer.allocUnsafe(1 << 20);
    while (next < jobs.length) {
      const p = jobs[next++];
      let fh;
      try {
        fh = await open(p, flags).catch((e) =>
          flags !== plain && e.code === 'EPERM' ? open(p, plain) : Promise.reject(e),
        );
      } catch {
        continue; // vanished (a lock file) or unreadable: nothing to read
      }
      try {
        for (;;) {
          const { bytesRead } = await fh.read(buf, 0, buf.length, null);
          if (!bytesRead) break;
          bytes += bytesRead;
        }
        files++;
      } finally {
        await fh.close();
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return { files, bytes, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

/** Map relative path -> { atime, mtime, ctime } (bigint ns) of every regular file under `dir`. */
export async function fileTimes(dir) {
  const m = new Map();
  for (const f of await listFiles(dir)) {
    const st = await lstat(join(dir, f), { bigint: true });
    m.set(f, { atime: st.atimeNs, mtime: st.mtimeNs, ctime: st.ctimeNs });
  }
  return m;
}

/**
 * The atime policy of the mount holding `path` (from /proc/self/mountinfo): 'noatime',
 * 'relatime', 'strictatime' (neither shown) or null when unknown; plus the mount point and options.
 */
export function atimePolicy(path) {
  let best = null;
  try {
    const real = realpathSync(path);
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const f = line.split(' ');
      if (f.length < 6) continue;
      const mp = f[4].replace(/\\040/g, ' ');
      const under = mp === '/' || real === mp || real.startsWith(`${mp}/`);
      if (under && (!best || mp.length >= best.mountPoint.length)) best = { mountPoint: mp, options: f[5] };
    }
  } catch {
    return { policy: null, mountPoint: null, options: null };
  }
  if (!best) return { policy: null, mountPoint: null, options: null };
  const o = best.options.split(',');
  const policy = o.includes('noatime') ? 'noatime' : o.includes('relatime') ? 'relatime' : 'strictatime';
  return { policy, ...best };
}
