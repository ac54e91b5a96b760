// Carries out a restore plan: directories first, then file contents pack by pack, links and specials, verify, directory metadata last.
// Must never create an entry whose parent is not a directory it has just checked, and never write outside the target.

import { promises as fsp, type BigIntStats } from 'node:fs';
import { forEachLimit } from '../core/concurrency.js';
import { verifyFileContent, writeFileContent } from './content.js';
import { writeFilesByPack } from './pack-order.js';
import { ensureDirSync, makeSpecial, matchesPlanned, prepareSlot, splitDev, type DirState } from './fsops.js';
import { applyDirMetaSync, applySpecialMeta, applySymlinkMeta, restoreDirModeSync } from './metadata.js';
import { displayName } from '../tree/node.js';
import {
  filePath,
  plannedFile,
  type PlannedFile,
  type PlannedHardlink,
  type PlannedOther,
  type RestorePlan,
} from './plan.js';
import type { RestorePool } from './restore-pool.js';
import { DEFAULT_CONCURRENCY, SETID, type DamagedFile, type RestoreContext } from './types.js';
import { IntegrityError, errorMessage } from '../core/errors.js';

/** The blocking directory loops let timers, progress and an abort through this often. */
const DIRS_PER_TURN = 256;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function executePlan(ctx: RestoreContext, plan: RestorePlan, pool: RestorePool): Promise<void> {
  await fsp.mkdir(ctx.target, { recursive: true });
  const dirs: DirState[] = [];
  const parentOk = (p: number) => p < 0 || dirs[p].ok;
  const targetGid = (await fsp.stat(ctx.target)).gid;

  // Parents come before children in plan.dirs, so a skipped directory skips its whole subtree.
  for (let i = 0; i < plan.dirs.length; i++) {
    if (i % DIRS_PER_TURN === DIRS_PER_TURN - 1) await nextTurn();
    ctx.checkAborted();
    const d = plan.dirs[i];
    const state = parentOk(d.parent) ? ensureDirSync(ctx, d.path) : { ok: false, created: false };
    dirs.push(state);
    if (state.ok) ctx.result.dirs++;
  }

  // Files written by this restore: a flag per planned file, and the hard-link copies written as separate files.
  const written = new Uint8Array(plan.files.count);
  // Files left out because their content is damaged: their other hard-link names are left out too.
  const damaged = new Map<number, DamagedFile>();
  const copies: { file: PlannedFile; path: Buffer }[] = [];
  const fileDone = () => {
    ctx.progress.filesDone++;
    ctx.reportProgress();
  };
  // A new file belongs to us and to our group or its directory's (setgid, or a grpid mount): when all of
  // those are the file's own, chown would change nothing and is left out (one system call less per file).
  const euid = process.geteuid?.();
  const egid = process.getegid?.();
  await writeFilesByPack(ctx, plan, pool, {
    eligible: (i) => parentOk(plan.files.parent(i)),
    ownerAsCreated: (i) => {
      const p = plan.files.parent(i);
      const { uid, gid } = plan.files.meta(i);
      return uid === euid && gid === egid && (p < 0 ? targetGid : dirs[p].gid) === egid;
    },
    written: (i) => {
      written[i] = 1;
    },
    finished: fileDone,
    damaged: (i, d) => damaged.set(i, d),
  });

  for (const e of plan.others) {
    ctx.checkAborted();
    if (parentOk(e.parent)) await restoreOther(ctx, e);
  }

  for (const h of plan.hardlinks) {
    ctx.checkAborted();
    if (parentOk(h.parent)) await restoreHardlink(ctx, plan, h, written[h.leader] === 1, damaged.get(h.leader), copies);
    fileDone();
  }

  // Counted once written: the CLI tells about setuid/setgid files a restore as root created.
  for (let i = 0; i < written.length; i++)
    if (written[i] === 1 && (plan.files.mode(i) & SETID) !== 0) ctx.result.setuid++;
  for (const c of copies) if ((c.file.meta.mode & SETID) !== 0) ctx.result.setuid++;

  if (ctx.opts.verify) {
    ctx.result.verified = 0;
    const todo: number[] = [];
    for (let i = 0; i < written.length; i++) if (written[i] === 1) todo.push(i);
    const check = async (file: PlannedFile, path: Buffer) => {
      ctx.checkAborted();
      await verifyFileContent(ctx, file, path);
      ctx.result.verified!++;
    };
    await forEachLimit(todo, ctx.opts.concurrency ?? DEFAULT_CONCURRENCY, (i) => {
      const f = plannedFile(plan, i);
      return check(f, f.path);
    });
    await forEachLimit(copies, ctx.opts.concurrency ?? DEFAULT_CONCURRENCY, (c) => check(c.file, c.path));
  }

  // Children before parents: writing into a directory changes its mtime, and a read-only mode would block writing.
  for (let i = plan.dirs.length - 1, n = 0; i >= 0; i--) {
    const d = plan.dirs[i];
    const s = dirs[i];
    if (!s.ok) continue;
    if (++n % DIRS_PER_TURN === 0) await nextTurn();
    if (s.created || ctx.overwrite !== 'never') applyDirMetaSync(ctx, d.path, d.meta);
    else if (s.oldMode !== undefined) restoreDirModeSync(ctx, d.path, s.oldMode);
  }
}

async function restoreHardlink(
  ctx: RestoreContext,
  plan: RestorePlan,
  h: PlannedHardlink,
  leaderWritten: boolean,
  leaderDamage: DamagedFile | undefined,
  copies: { file: PlannedFile; path: Buffer }[],
): Promise<void> {
  if (leaderDamage !== undefined) {
    // The same content: reading the same blobs again would fail the same way.
    ctx.damage(
      h.path,
      new IntegrityError(`${leaderDamage.message} (hard link to ${leaderDamage.item})`, {
        blob: leaderDamage.blob,
        pack: leaderDamage.pack,
        file: leaderDamage.file,
      }),
    );
    return;
  }
  const leaderPath = filePath(plan, h.leader);
  if (!(await prepareSlot(ctx, h.path, (st) => matchesPlanned(st, plan.files.size(h.leader), h.node.mtime)))) return;
  if (leaderWritten) {
    try {
      await fsp.link(leaderPath, h.path);
      ctx.result.hardlinks++;
      return;
    } catch (err) {
      ctx.warn(
        h.path,
        `cannot hard-link to ${displayName(leaderPath.subarray(ctx.target.length + 1))}, restored as a separate copy: ${errorMessage(err)}`,
        err,
      );
    }
  }
  // The first path of this inode was not written by this restore (filtered, skipped or link failed): write a copy.
  const leader = plannedFile(plan, h.leader);
  ctx.progress.bytesTotal += leader.size;
  const meta = ctx.opts.stripSetuid ? { ...h.node, mode: h.node.mode & ~SETID } : h.node;
  try {
    await writeFileContent(ctx, leader, h.path, meta);
  } catch (err) {
    if (ctx.damage(h.path, err) === undefined) throw err;
    return;
  }
  ctx.result.files++;
  copies.push({ file: leader, path: h.path });
}

async function restoreOther(ctx: RestoreContext, e: PlannedOther): Promise<void> {
  const n = e.node;
  if (n.type === 'symlink') {
    const target = n.linktarget!;
    const same = async (st: BigIntStats) =>
      st.isSymbolicLink() && (await fsp.readlink(e.path, { encoding: 'buffer' })).equals(target);
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
    if (ctx.opts.devices === false) return; // asked for: no warning
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
    ctx.warn(e.path, `cannot create ${n.type}: ${errorMessage(err)}`, err);
    return;
  }
  await applySpecialMeta(ctx, e.path, n);
  ctx.result.specials++;
  if (cmd === 'mknod') ctx.result.devices++;
}
