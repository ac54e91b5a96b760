// Carries out a restore plan: directories first, then file contents pack by pack, links and specials, verify, directory metadata last.
// Must never create an entry whose parent is not a directory it has just checked, and never write outside the target.

import { promises as fsp, type BigIntStats } from 'node:fs';
import { forEachLimit } from '../core/concurrency.js';
import { verifyFileContent, writeFileContent } from './content.js';
import { writeFilesByPack } from './pack-order.js';
import { ensureDir, makeSpecial, matchesPlanned, prepareSlot, splitDev, type DirState } from './fsops.js';
import { applyDirMeta, applySpecialMeta, applySymlinkMeta, restoreDirMode } from './metadata.js';
import { displayName } from '../tree/node.js';
import type { PlannedFile, PlannedHardlink, PlannedOther, RestorePlan } from './plan.js';
import { DEFAULT_CONCURRENCY, type RestoreContext } from './types.js';

interface Written {
  file: PlannedFile;
  path: Buffer;
}

export async function executePlan(ctx: RestoreContext, plan: RestorePlan): Promise<void> {
  await fsp.mkdir(ctx.target, { recursive: true });
  const dirs: DirState[] = [];
  const parentOk = (p: number) => p < 0 || dirs[p].ok;

  // Parents come before children in plan.dirs, so a skipped directory skips its whole subtree.
  for (const d of plan.dirs) {
    ctx.checkAborted();
    const state = parentOk(d.parent) ? await ensureDir(ctx, d.path) : { ok: false, created: false };
    dirs.push(state);
    if (state.ok) ctx.result.dirs++;
  }

  const written: Written[] = [];
  const writtenLeaders = new Set<number>();
  const fileDone = () => {
    ctx.progress.filesDone++;
    ctx.reportProgress();
  };
  await writeFilesByPack(ctx, plan, {
    eligible: (i) => parentOk(plan.files[i].parent),
    written: (i) => {
      written.push({ file: plan.files[i], path: plan.files[i].path });
      writtenLeaders.add(i);
    },
    finished: fileDone,
  });

  for (const e of plan.others) {
    ctx.checkAborted();
    if (parentOk(e.parent)) await restoreOther(ctx, e);
  }

  for (const h of plan.hardlinks) {
    ctx.checkAborted();
    if (parentOk(h.parent)) await restoreHardlink(ctx, plan, h, writtenLeaders.has(h.leader), written);
    fileDone();
  }

  if (ctx.opts.verify) {
    ctx.result.verified = 0;
    await forEachLimit(written, ctx.opts.concurrency ?? DEFAULT_CONCURRENCY, async (w) => {
      ctx.checkAborted();
      await verifyFileContent(ctx, w.file, w.path);
      ctx.result.verified!++;
    });
  }

  // Children before parents: writing into a directory changes its mtime, and a read-only mode would block writing.
  for (let i = plan.dirs.length - 1; i >= 0; i--) {
    const d = plan.dirs[i];
    const s = dirs[i];
    if (!s.ok) continue;
    if (s.created || ctx.overwrite !== 'never') await applyDirMeta(ctx, d.path, d.node);
    else if (s.oldMode !== undefined) await restoreDirMode(ctx, d.path, s.oldMode);
  }
}

async function restoreHardlink(ctx: RestoreContext, plan: RestorePlan, h: PlannedHardlink, leaderWritten: boolean, written: Written[]): Promise<void> {
  const leader = plan.files[h.leader];
  if (!(await prepareSlot(ctx, h.path, (st) => matchesPlanned(st, leader.size, h.node.mtime)))) return;
  if (leaderWritten) {
    try {
      await fsp.link(leader.path, h.path);
      ctx.result.hardlinks++;
      return;
    } catch (err) {
      ctx.warn(h.path, `cannot hard-link to ${displayName(leader.path.subarray(ctx.target.length + 1))}, restored as a separate copy: ${(err as Error).message}`, err);
    }
  }
  // The first path of this inode was not written by this restore (filtered, skipped or link failed): write a copy.
  ctx.progress.bytesTotal += leader.size;
  await writeFileContent(ctx, leader, h.path, h.node);
  ctx.result.files++;
  written.push({ file: leader, path: h.path });
}

async function restoreOther(ctx: RestoreContext, e: PlannedOther): Promise<void> {
  const n = e.node;
  if (n.type === 'symlink') {
    const target = n.linktarget!;
    const same = async (st: BigIntStats) => st.isSymbolicLink() && (await fsp.readlink(e.path, { encoding: 'buffer' })).equals(target);
    if (!(await prepareSlot(ctx, e.path, same))) return;
    // The link is created as stored, even if it points outside the target: nothing we write ever goes through it.
    await fsp.symlink(target, e.path);
    await applySymlinkMeta(ctx, e.path, n);
    ctx.result.symlinks++;
    return;
  }
  let extra: string[] = [];
  let cmd: 'mkfifo' | 'mknod' = 'mkfifo';
  let same = (st: BigIntStats) => st.isFIFO();
  if (n.type === 'blockdev' || n.type === 'chardev') {
    if (!ctx.isRoot) {
      ctx.warn(e.path, 'device nodes can only be created by root; skipped');
      return;
    }
    if (n.rdev === undefined || !/^\d+$/.test(n.rdev)) {
      ctx.warn(e.path, 'device node without a valid device number; skipped');
      return;
    }
    const rdev = BigInt(n.rdev);
    cmd = 'mknod';
    extra = [n.type === 'blockdev' ? 'b' : 'c', ...splitDev(n.rdev)];
    same = (st) => (n.type === 'blockdev' ? st.isBlockDevice() : st.isCharacterDevice()) && st.rdev === rdev;
  }
  if (!(await prepareSlot(ctx, e.path, same))) return;
  try {
    await makeSpecial(ctx, e.path, cmd, extra);
  } catch (err) {
    ctx.warn(e.path, `cannot create ${n.type}: ${(err as Error).message}`, err);
    return;
  }
  await applySpecialMeta(ctx, e.path, n);
  ctx.result.specials++;
}
