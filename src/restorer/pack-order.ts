// Restores file contents pack by pack: each pack is read once (the range its needed blobs span) and
// its blobs are written to every file that contains them, by worker threads with positional writes.
// Must never leave a file that looks restored but is not: a file whose blob fails here is rewritten
// from the blob's other copies, or removed and reported with the blob, pack and path.

import { promises as fsp } from 'node:fs';
import { forEachLimit } from '../core/concurrency.js';
import { transferable } from '../core/worker-pool.js';
import { idToHex } from '../core/id.js';
import { DEFAULT_CONCURRENCY } from './types.js';
import { nodeTimeSeconds, applyHandleMeta } from './metadata.js';
import { writeFileContent } from './content.js';
import { createFile, matchesPlanned, prepareSlot } from './fsops.js';
import type { JobBlob, JobFile, JobFileMeta, PackJob, PackJobResult } from './pack-writer.js';
import type { PlannedFile, RestorePlan } from './plan.js';
import { createRestorePool, defaultRestoreWorkers } from './restore-pool.js';
import { displayName } from '../tree/node.js';
import { rfc3339ToNs } from '../tree/time.js';
import type { RestoreContext } from './types.js';

/** Files without content are created in batches of this many per job. */
const EMPTY_FILES_PER_JOB = 512;

interface JobBuild {
  pack: string;
  blobs: JobBlob[];
  blobIndex: Map<string, number>;
  files: JobFile[];
  /** Byte range of the pack the needed blobs span. */
  start: number;
  end: number;
}

export interface ContentCallbacks {
  /** Whether file i is to be written at all (its directory exists). */
  eligible(i: number): boolean;
  /** File i was written completely, with its metadata. */
  written(i: number): void;
  /** File i is finished one way or another (written, skipped or not eligible). */
  finished(i: number): void;
}

export async function writeFilesByPack(ctx: RestoreContext, plan: RestorePlan, cb: ContentCallbacks): Promise<void> {
  const { jobs, multi } = buildJobs(ctx, plan, cb);
  const skippedMulti = await createMultiPackFiles(ctx, plan, multi, cb);
  const broken = new Set<number>();
  const pool = createRestorePool(ctx.repo.key, { overwrite: ctx.overwrite, isRoot: ctx.isRoot }, ctx.opts.workers ?? defaultRestoreWorkers());
  // One pack more than threads: each thread writes while the next pack is being read.
  const jobsInFlight = Math.min(ctx.opts.concurrency ?? DEFAULT_CONCURRENCY, Math.max(2, pool.threads + 1));

  const finishMulti = async (i: number): Promise<void> => {
    const f = plan.files[i];
    const fh = await fsp.open(f.path, 'r+');
    try {
      await applyHandleMeta(ctx, fh, f.path, f.meta);
    } finally {
      await fh.close();
    }
    ctx.result.files++;
    cb.written(i);
    cb.finished(i);
  };

  const handle = async (r: PackJobResult): Promise<void> => {
    for (const w of r.warnings) ctx.warn(plan.files[w.file].path, w.message);
    if (r.fatal !== undefined) {
      const err = Object.assign(new Error(r.fatal.message), { code: r.fatal.code, syscall: r.fatal.syscall, path: displayName(plan.files[r.fatal.file].path) });
      throw err;
    }
    ctx.result.bytes += r.bytes;
    ctx.progress.bytesDone += r.bytes;
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
      else if (broken.has(b)) multi.set(b, 0); // stays listed (and so removed on failure) until rewritten below
      else {
        multi.delete(b);
        await finishMulti(b);
      }
    }
    ctx.reportProgress();
  };

  const runJob = async (build: JobBuild): Promise<void> => {
    ctx.checkAborted();
    const files = skippedMulti.size === 0 ? build.files : build.files.filter((f) => f.owner || !skippedMulti.has(f.file));
    if (files.length === 0) return;
    const job: Omit<PackJob, 'job'> = { pack: build.pack, blobs: build.blobs, files };
    if (build.blobs.length > 0) {
      try {
        job.data = await ctx.repo.loadPackRange(build.pack, build.start, build.end - build.start);
      } catch {
        // The fallback below tries the blobs' other copies and reports a missing pack with its name.
        await handle({ job: 0, done: [], added: [], skipped: [], broken: files.map((f) => ({ file: f.file, message: 'pack unreadable' })), bytes: 0, warnings: [] });
        return;
      }
    }
    await handle(await pool.run((n) => ({ ...job, job: n }), transferable(job.data)));
  };

  try {
    try {
      await forEachLimit(jobs, jobsInFlight, runJob);
    } finally {
      await pool.close();
    }
    // Files with a blob that could not be used from the pack read above: written blob by blob from any copy.
    for (const i of [...broken].sort((a, b) => a - b)) {
      ctx.checkAborted();
      const f = plan.files[i];
      multi.delete(i);
      await fsp.unlink(f.path).catch(() => undefined);
      await writeFileContent(ctx, f, f.path, f.meta);
      ctx.result.files++;
      cb.written(i);
      cb.finished(i);
    }
  } catch (err) {
    // Files spanning packs that are not complete would look restored: they go, like any partial file.
    await Promise.all([...multi.keys()].map((i) => fsp.unlink(plan.files[i].path).catch(() => undefined)));
    throw err;
  }
}

function fileMeta(f: PlannedFile): JobFileMeta {
  const n = f.meta;
  return {
    mode: n.mode,
    uid: n.uid,
    gid: n.gid,
    atime: nodeTimeSeconds(n.atime ?? n.mtime),
    mtime: nodeTimeSeconds(n.mtime),
    size: f.size,
    mtimeNs: rfc3339ToNs(n.mtime).toString(),
  };
}

/**
 * Groups every eligible file's pieces by the pack holding their blob, packs in order of first use (so
 * files of one directory come out close together). A file whose pieces all sit in one pack is owned by
 * that pack's job; a file spanning packs is returned in `multi` with the number of jobs that touch it.
 */
function buildJobs(ctx: RestoreContext, plan: RestorePlan, cb: ContentCallbacks): { jobs: JobBuild[]; multi: Map<number, number> } {
  const byPack = new Map<string, JobBuild>();
  const empty: JobBuild[] = [];
  const multi = new Map<number, number>();
  const jobFor = (pack: string): JobBuild => {
    let b = byPack.get(pack);
    if (b === undefined) {
      b = { pack, blobs: [], blobIndex: new Map(), files: [], start: Infinity, end: 0 };
      byPack.set(pack, b);
    }
    return b;
  };
  for (let i = 0; i < plan.files.length; i++) {
    if (!cb.eligible(i)) {
      cb.finished(i);
      continue;
    }
    const f = plan.files[i];
    if (f.pieces.length === 0) {
      if (empty.length === 0 || empty[empty.length - 1].files.length >= EMPTY_FILES_PER_JOB) {
        empty.push({ pack: '', blobs: [], blobIndex: new Map(), files: [], start: 0, end: 0 });
      }
      empty[empty.length - 1].files.push({ file: i, path: f.path, owner: true, meta: fileMeta(f), pieces: [] });
      continue;
    }
    const perPack = new Map<string, number[]>();
    for (const p of f.pieces) {
      const loc = ctx.repo.index.lookup('data', p.blob)!; // the plan checked every blob
      const b = jobFor(loc.pack);
      const key = idToHex(p.blob);
      let bi = b.blobIndex.get(key);
      if (bi === undefined) {
        bi = b.blobs.push({ id: p.blob, offset: loc.offset, storedLength: loc.storedLength, rawLength: loc.rawLength, compression: loc.compression }) - 1;
        b.blobIndex.set(key, bi);
        b.start = Math.min(b.start, loc.offset);
        b.end = Math.max(b.end, loc.offset + loc.storedLength);
      }
      let list = perPack.get(loc.pack);
      if (list === undefined) perPack.set(loc.pack, (list = []));
      list.push(bi, p.offset);
    }
    const owner = perPack.size === 1;
    if (!owner) multi.set(i, perPack.size);
    for (const [pack, pieces] of perPack) {
      jobFor(pack).files.push({ file: i, path: f.path, owner, meta: owner ? fileMeta(f) : undefined, pieces });
    }
  }
  // Blob offsets were pack offsets; the job carries only the needed range, so make them relative to it.
  for (const b of byPack.values()) {
    for (const blob of b.blobs) blob.offset -= b.start;
    b.blobIndex.clear();
  }
  return { jobs: [...byPack.values(), ...empty], multi };
}

/** Creates (empty) every file that spans packs, so jobs can add their pieces in any order; returns those left alone. */
async function createMultiPackFiles(ctx: RestoreContext, plan: RestorePlan, multi: Map<number, number>, cb: ContentCallbacks): Promise<Set<number>> {
  const skipped = new Set<number>();
  for (const i of multi.keys()) {
    ctx.checkAborted();
    const f = plan.files[i];
    const proceed = await prepareSlot(ctx, f.path, (st) => matchesPlanned(st, f.size, f.meta.mtime));
    if (!proceed) {
      skipped.add(i);
      cb.finished(i);
      continue;
    }
    await (await createFile(f.path)).close();
  }
  for (const i of skipped) multi.delete(i);
  return skipped;
}
