// Byte-for-byte comparison of a restored tree against its source.

import { open, readdir, readlink, lstat } from 'node:fs/promises';
import { join } from 'node:path';

const BUF = 1 << 20;

function kind(st) {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}

async function sameContent(a, b, size) {
  const fa = await open(a, 'r');
  const fb = await open(b, 'r');
  try {
    const ba = Buffer.allocUnsafe(Math.min(BUF, Math.max(size, 1)));
    const bb = Buffer.allocUnsafe(ba.length);
    let pos = 0;
    for (;;) {
      const [ra, rb] = await Promise.all([fa.read(ba, 0, ba.length, pos), fb.read(bb, 0, bb.length, pos)]);
      if (ra.bytesRead !== rb.bytesRead) return false;
      if (ra.bytesRead === 0) return true;
      if (ba.compare(bb, 0, rb.bytesRead, 0, ra.bytesRead) !== 0) return false;
      pos += ra.bytesRead;
    }
  } finally {
    await fa.close();
    await fb.close();
  }
}

/**
 * Compares every entry under `src` with the same relative path under `dst`: type, symlink target,
 * size and content of regular files; entries present on only one side are mismatches too.
 * Returns { ok, files, bytes, mismatchCount, mismatches: first 10 descriptions }.
 */
export async function compareTrees(src, dst) {
  const res = { ok: true, files: 0, bytes: 0, mismatchCount: 0, mismatches: [] };
  const bad = (msg) => {
    res.ok = false;
    res.mismatchCount++;
    if (res.mismatches.length < 10) res.mismatches.push(msg);
  };
  try {
    const st = await lstat(dst);
    if (!st.isDirectory()) {
      bad(`restored root ${dst} is not a directory`);
      return res;
    }
  } catch {
    bad(`restored root ${dst} does not exist`);
    return res;
  }
  const fileJobs = [];
  const walk = async (rel) => {
    const [ea, eb] = await Promise.all([readdir(join(src, rel)), readdir(join(dst, rel)).catch(() => [])]);
    const setA = new Set(ea);
    const setB = new Set(eb);
    for (const name of eb) if (!setA.has(name)) bad(`extra in restore: ${join(rel, name)}`);
    for (const name of ea.sort()) {
      const r = join(rel, name);
      if (!setB.has(name)) {
        bad(`missing in restore: ${r}`);
        continue;
      }
      const [sa, sb] = await Promise.all([lstat(join(src, r)), lstat(join(dst, r))]);
      const ka = kind(sa);
      const kb = kind(sb);
      if (ka !== kb) bad(`type differs: ${r} (${ka} vs ${kb})`);
      else if (ka === 'dir') await walk(r);
      else if (ka === 'symlink') {
        const [la, lb] = await Promise.all([readlink(join(src, r)), readlink(join(dst, r))]);
        if (la !== lb) bad(`symlink target differs: ${r}`);
      } else if (ka === 'file') {
        res.files++;
        res.bytes += sa.size;
        if (sa.size !== sb.size) bad(`size differs: ${r} (${sa.size} vs ${sb.size})`);
        else fileJobs.push([r, sa.size]);
      }
    }
  };
  await walk('');
  // compare contents with a few reads in flight (helps trees of many small files)
  let next = 0;
  const worker = async () => {
    while (next < fileJobs.length) {
      const [r, size] = fileJobs[next++];
      if (!(await sameContent(join(src, r), join(dst, r), size))) bad(`content differs: ${r}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return res;
}
