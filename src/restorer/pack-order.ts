// Restores file contents pack by pack: each needed pack is read once, window by window (the range its needed
// blobs span, cut into pieces of a few MiB), and its blobs are written to every file that contains them, by
// worker threads with positional writes.
// Must never leave a file that looks restored but is not: a file whose blob fails here is rewritten
// from the blob's other copies, or removed and reported with the blob, pack and path.

import fs, { constants as C, promises as fsp } from 'node:fs';
import { forEachLimit } from '../core/concurrency.js';
import { transferable } from '../core/worker-pool.js';
import { DEFAULT_CONCURRENCY } from './types.js';
import { applyFdMetaSync } from './metadata.js';
import { writeFileContent } from './content.js';
import { matchesPlanned } from './fsops.js';
import { FILE_FIELDS, type PackJob, type PackJobResult } from './pack-writer.js';
import { planJobs } from './pack-jobs.js';
import { filePath, plannedFile, type RestorePlan } from './plan.js';
import type { RestorePool } from './restore-pool.js';
import { displayName } from '../tree/node.js';
import type { DamagedFile, RestoreContext } from './types.js';

export interface ContentCallbacks {
  /** Whether file i is to be written at all (its directory exists). */
  eligible(i: number): boolean;
  /** Whether file i, created now, would already have its owner and group (so a chown can be left out). */
  ownerAsCreated(i: number): boolean;
  /** File i was written completely, with its metadata. */
  written(i: number): void;
  /** File i is finished one way or another (written, skipped, damaged or not eligible). */
  finished(i: number): void;
  /** File i could not be restored: a blob of it is damaged or missing in every copy (it is not on disk). */
  damaged(i: number, d: DamagedFile): void;
}

/**
 * Every buffer of a job, to move to a worker without a copy. Window bytes that are a view into a larger
 * buffer (a backend may hand out slices) are copied first: posting the view would copy all of the larger one.
 */
function transferList(job: Omit<PackJob, 'job'>): ArrayBuffer[] {
  if (job.data !== undefined && transferable(job.data).length === 0) job.data = new Uint8Array(job.data); // a copy (Buffer#slice is a view)
  const arrays = [job.blobs, job.blobIds, job.files, job.meta, job.paths, job.pieceBlobs, job.pieceOffsets];
  return [...transferable(job.data), ...arrays.map((a) => a.buffer as ArrayBuffer)];
}

export async function writeFilesByPack(
  ctx: RestoreContext,
  plan: RestorePlan,
  pool: RestorePool,
  cb: ContentCallbacks,
): Promise<void> {
  const jobs = planJobs(plan, cb.eligible, cb.finished, ctx.isRoot ? cb.ownerAsCreated : () => true);
  // Spanning files still to finish, with the number of jobs yet to add their pieces.
  const multi = new Map(jobs.spanning);
  const skippedMulti = createMultiPackFiles(ctx, plan, multi, cb);
  const broken = new Set<number>();
  const multiBytes = new Map<number, number>(); // bytes counted so far per file that spans windows
  const jobsInFlight = Math.min(ctx.opts.concurrency ?? DEFAULT_CONCURRENCY, pool.lanes);

  const finishMulti = (i: number): void => {
    const path = filePath(plan, i);
    const fd = fs.openSync(path, C.O_WRONLY | C.O_NOFOLLOW);
    try {
      applyFdMetaSync(ctx, fd, path, plan.files.meta(i));
    } finally {
      fs.closeSync(fd);
    }
    ctx.result.files++;
    cb.written(i);
    cb.finished(i);
  };

  const handle = (r: PackJobResult): void => {
    for (const w of r.warnings) ctx.warn(filePath(plan, w.file), w.message);
    if (r.fatal !== undefined) {
      const err = Object.assign(new Error(r.fatal.message), {
        code: r.fatal.code,
        syscall: r.fatal.syscall,
        path: displayName(filePath(plan, r.fatal.file)),
      });
      throw err;
    }
    ctx.result.bytes += r.bytes;
    ctx.progress.bytesDone += r.bytes;
    r.added.forEach((b, k) => multiBytes.set(b, (multiBytes.get(b) ?? 0) + r.addedBytes[k]));
    for (const b of r.broken) broken.add(b.file);
    for (const i of r.done) {
      ctx.result.files++;
      cb.written(i);
      cb.finished(i);
    }
    for (const i of r.skipped) {
      ctx.result.skipped++;
      cb.finished(i);
    }
    for (const b of [...r.added, ...r.broken.map((x) => x.file)]) {
      const left = multi.get(b);
      if (left === undefined) continue;
      if (left > 1) multi.set(b, left - 1);
      else if (broken.has(b))
        multi.set(b, 0); // stays listed (and so removed on failure) until rewritten below
      else {
        multi.delete(b);
        finishMulti(b);
      }
    }
    ctx.reportProgress();
  };

  const runJob = async (j: number): Promise<void> => {
    ctx.checkAborted();
    const job = jobs.build(j, skippedMulti);
    if (job === undefined) return;
    if (job.blobs.length > 0) {
      const { pack, start, length } = jobs.range(j);
      try {
        job.data = await ctx.repo.loadPackRange(pack, start, length);
      } catch {
        // The fallback below tries the blobs' other copies and reports a missing pack with its name.
        const files: { file: number; message: string }[] = [];
        for (let r = 0; r < job.files.length; r += FILE_FIELDS)
          files.push({ file: job.files[r], message: 'pack unreadable' });
        handle({ job: 0, done: [], added: [], addedBytes: [], skipped: [], broken: files, bytes: 0, warnings: [] });
        return;
      }
    }
    handle(await pool.run(job, transferList(job)));
  };

  try {
    try {
      await forEachLimit(
        Array.from({ length: jobs.count }, (_, j) => j),
        jobsInFlight,
        runJob,
      );
    } finally {
      await pool.close();
    }
    // Files with a blob that could not be used from the pack read above: written blob by blob from any copy.
    // A file none of whose copies work is removed (writeFileContent does that) and recorded; the rest goes on.
    for (const i of [...broken].sort((a, b) => a - b)) {
      ctx.checkAborted();
      const f = plannedFile(plan, i);
      multi.delete(i);
      await fsp.unlink(f.path).catch(() => undefined);
      // Pieces other windows wrote before the file broke were counted; it is written (and counted) again from the start.
      const counted = multiBytes.get(i) ?? 0;
      ctx.result.bytes -= counted;
      ctx.progress.bytesDone -= counted;
      try {
        await writeFileContent(ctx, f, f.path, f.meta);
      } catch (err) {
        const d = ctx.damage(f.path, err);
        if (d === undefined) throw err;
        cb.damaged(i, d);
        cb.finished(i);
        continue;
      }
      ctx.result.files++;
      cb.written(i);
      cb.finished(i);
    }
  } catch (err) {
    // Files spanning windows that are not complete would look restored: they go, like any partial file.
    await Promise.all([...multi.keys()].map((i) => fsp.unlink(filePath(plan, i)).catch(() => undefined)));
    throw err;
  }
}

/**
 * Creates (empty) every file that spans windows, so jobs can add their pieces in any order; returns those
 * left alone. Blocking, like the directory loop before it: usually a handful of files, one per window edge.
 */
function createMultiPackFiles(
  ctx: RestoreContext,
  plan: RestorePlan,
  multi: Map<number, number>,
  cb: ContentCallbacks,
): Set<number> {
  const skipped = new Set<number>();
  for (const i of multi.keys()) {
    ctx.checkAborted();
    const path = filePath(plan, i);
    if (!prepareSlotSync(ctx, path, plan.files.size(i), plan.files.mtimeNs(i))) {
      skipped.add(i);
      cb.finished(i);
      continue;
    }
    const fd = fs.openSync(path, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
    try {
      fs.ftruncateSync(fd, plan.files.size(i)); // its final size now: pieces left as holes (sparse) need no more
    } finally {
      fs.closeSync(fd);
    }
  }
  for (const i of skipped) multi.delete(i);
  return skipped;
}

/** fsops.prepareSlot for a planned file, blocking. */
function prepareSlotSync(ctx: RestoreContext, path: Buffer, size: number, mtimeNs: bigint): boolean {
  const st = fs.lstatSync(path, { bigint: true, throwIfNoEntry: false });
  if (st === undefined) return true;
  if (ctx.overwrite === 'never' || (ctx.overwrite === 'if-changed' && matchesPlanned(st, size, mtimeNs))) {
    ctx.result.skipped++;
    return false;
  }
  if (st.isDirectory()) {
    try {
      fs.rmdirSync(path); // only succeeds when empty: other people's files are never deleted
    } catch (err) {
      ctx.warn(path, 'a non-empty directory is in the way, entry not restored', err);
      return false;
    }
    return true;
  }
  fs.unlinkSync(path);
  return true;
}
