// Cuts the plan's file contents into pack jobs: the needed blobs of each pack, in pack order, split into
// windows of about a MiB, and each window's files as the typed arrays a worker takes (pack-writer.ts).
// Windows bound what a restore holds in memory (a pack read whole was 16 MiB per job in flight, times
// two or three, plus the blobs opened from it), while still reading every needed byte of a pack once.
// 1 MiB windows restored the kernel tree as fast as 4 MiB ones and 256 MiB of random data with 40 MiB
// less peak RSS; smaller ones only add jobs.
// Must never give a file to two jobs as owner: a file whose pieces fall in several windows is owned by
// none, created beforehand and finished by the caller (pack-order.ts).

import type { FileTable } from './file-table.js';
import { BLOB_FIELDS, FILE_FIELDS, META_FIELDS, OWNER, OWNER_AS_CREATED, type PackJob } from './pack-writer.js';
import type { RestorePlan } from './plan.js';

/** A window's stored bytes stop growing past this at the next file boundary (or at 1.5 times this, anywhere; a larger blob gets a window of its own). */
export const WINDOW_BYTES = 1 << 20;
/** Unneeded bytes between two needed blobs that are read rather than starting a new window. */
const MAX_GAP = 1 << 20;
/** Files without content are created in batches of this many per job. */
const EMPTY_FILES_PER_JOB = 512;

export interface JobList {
  /** Jobs in the order to run them: windows (packs in order of first use, each in offset order), then empty files. */
  count: number;
  /** Files whose pieces fall in more than one window, with the number of windows (the jobs that touch them). */
  spanning: ReadonlyMap<number, number>;
  /** Pack name and byte range of job j (pack '' and length 0 for a batch of empty files). */
  range(j: number): { pack: string; start: number; length: number };
  /** Builds job j, leaving out the spanning files in `skip`; undefined when no file is left. */
  build(j: number, skip: ReadonlySet<number>): Omit<PackJob, 'job'> | undefined;
}

/**
 * Groups the pieces of every file `eligible` accepts into windows; calls `ineligible` for each other file.
 * `ownerAsCreated` tells the files that need no chown (see pack-writer's job layout).
 */
export function planJobs(
  plan: RestorePlan,
  eligible: (i: number) => boolean,
  ineligible: (i: number) => void,
  ownerAsCreated: (i: number) => boolean,
): JobList {
  const t = plan.files;
  const pieceFile = new Uint32Array(t.pieceCount);
  const perPack = new Uint32Array(t.packCount);
  const packOrder: number[] = [];
  const empty: number[] = [];
  let needed = 0;
  for (let i = 0; i < t.count; i++) {
    if (!eligible(i)) {
      ineligible(i);
      continue;
    }
    const n = t.pieces(i);
    if (n === 0) empty.push(i);
    for (let k = t.firstPiece(i); k < t.firstPiece(i) + n; k++) {
      pieceFile[k] = i;
      const p = t.packOf(k);
      if (perPack[p]++ === 0) packOrder.push(p);
      needed++;
    }
  }
  // Pieces grouped by pack (packs in order of first use), each group sorted by offset in the pack.
  const packStart = new Uint32Array(t.packCount);
  for (let at = 0, o = 0; o < packOrder.length; o++) {
    packStart[packOrder[o]] = at;
    at += perPack[packOrder[o]];
  }
  const sorted = new Uint32Array(needed);
  const fill = packStart.slice();
  for (let i = 0; i < t.count; i++) {
    if (t.pieces(i) === 0 || !eligible(i)) continue;
    for (let k = t.firstPiece(i); k < t.firstPiece(i) + t.pieces(i); k++) sorted[fill[t.packOf(k)]++] = k;
  }
  const pieceWindow = new Uint32Array(t.pieceCount);
  const windowStart: number[] = [];
  const windowRange: number[] = []; // start, end in the pack
  for (const p of packOrder) {
    const group = sorted.subarray(packStart[p], packStart[p] + perPack[p]);
    group.sort((a, b) => t.packOffset(a) - t.packOffset(b) || a - b);
    cutWindows(t, group, packStart[p], pieceFile, pieceWindow, windowStart, windowRange);
  }
  windowStart.push(needed);
  const windows = windowStart.length - 1;
  const spanning = spanningFiles(t, pieceWindow, windows, eligible);
  const emptyJobs = Math.ceil(empty.length / EMPTY_FILES_PER_JOB);
  return {
    count: windows + emptyJobs,
    spanning,
    range(j) {
      if (j >= windows) return { pack: '', start: 0, length: 0 };
      const k = sorted[windowStart[j]];
      return {
        pack: t.packName(t.packOf(k)),
        start: windowRange[2 * j],
        length: windowRange[2 * j + 1] - windowRange[2 * j],
      };
    },
    build(j, skip) {
      if (j >= windows)
        return emptyJob(
          plan,
          empty.slice((j - windows) * EMPTY_FILES_PER_JOB, (j - windows + 1) * EMPTY_FILES_PER_JOB),
          ownerAsCreated,
        );
      const pieces = sorted.subarray(windowStart[j], windowStart[j + 1]);
      return windowJob(plan, j, pieces, windowRange[2 * j], pieceFile, pieceWindow, spanning, skip, ownerAsCreated);
    },
  };
}

/** Splits one pack's pieces (sorted by offset) into windows; records each piece's window and each window's range. */
function cutWindows(
  t: FileTable,
  group: Uint32Array,
  base: number,
  pieceFile: Uint32Array,
  pieceWindow: Uint32Array,
  windowStart: number[],
  windowRange: number[],
): void {
  let start = -1;
  let end = 0;
  for (let g = 0; g < group.length; g++) {
    const k = group[g];
    const offset = t.packOffset(k);
    const stop = offset + t.storedLength(k);
    if (start >= 0 && offset >= end) {
      // A new blob (pieces of one blob share its offset): maybe the place to close the window.
      const span = stop - start;
      const startsFile = t.firstPiece(pieceFile[k]) === k;
      if (offset - end > MAX_GAP || (span > WINDOW_BYTES && (startsFile || span > WINDOW_BYTES * 1.5))) {
        windowRange.push(start, end);
        start = -1;
      }
    }
    if (start < 0) {
      start = offset;
      end = 0;
      windowStart.push(base + g);
    }
    end = Math.max(end, stop);
    pieceWindow[k] = windowStart.length - 1;
  }
  if (start >= 0) windowRange.push(start, end);
}

/** Files with pieces in more than one window, and in how many. */
function spanningFiles(
  t: FileTable,
  pieceWindow: Uint32Array,
  windows: number,
  eligible: (i: number) => boolean,
): Map<number, number> {
  const multi = new Map<number, number>();
  const seen = new Int32Array(windows).fill(-1);
  for (let i = 0; i < t.count; i++) {
    const n = t.pieces(i);
    if (n < 2 || !eligible(i)) continue;
    let count = 0;
    for (let k = t.firstPiece(i); k < t.firstPiece(i) + n; k++) {
      const w = pieceWindow[k];
      if (seen[w] !== i) {
        seen[w] = i;
        count++;
      }
    }
    if (count > 1) multi.set(i, count);
  }
  return multi;
}

/** Writes the destination path of file i into `paths` at `at`; returns the end. */
function putPath(plan: RestorePlan, i: number, paths: Uint8Array, at: number): number {
  const p = plan.files.parent(i);
  const dir = p < 0 ? plan.target : plan.dirs[p].path;
  paths.set(dir, at);
  paths[at + dir.length] = 0x2f;
  const name = plan.files.name(i);
  paths.set(name, at + dir.length + 1);
  return at + dir.length + 1 + name.length;
}

function pathLength(plan: RestorePlan, i: number): number {
  const p = plan.files.parent(i);
  return (p < 0 ? plan.target : plan.dirs[p].path).length + 1 + plan.files.name(i).length;
}

function emptyJob(plan: RestorePlan, files: number[], ownerAsCreated: (i: number) => boolean): Omit<PackJob, 'job'> {
  let bytes = 0;
  for (const i of files) bytes += pathLength(plan, i);
  const job = newJob('', 0, files.length, bytes, 0);
  let at = 0;
  files.forEach((i, n) => {
    at = putFile(plan, job, n, i, OWNER | (ownerAsCreated(i) ? OWNER_AS_CREATED : 0), at, 0, 0);
  });
  return job;
}

function newJob(pack: string, blobs: number, files: number, pathBytes: number, pieces: number): Omit<PackJob, 'job'> {
  return {
    pack,
    blobs: new Uint32Array(blobs * BLOB_FIELDS),
    blobIds: new Uint8Array(blobs * 32),
    files: new Uint32Array(files * FILE_FIELDS),
    meta: new Float64Array(files * META_FIELDS),
    paths: new Uint8Array(pathBytes),
    pieceBlobs: new Uint32Array(pieces),
    pieceOffsets: new Float64Array(pieces),
  };
}

function putFile(
  plan: RestorePlan,
  job: Omit<PackJob, 'job'>,
  n: number,
  i: number,
  flags: number,
  at: number,
  firstPiece: number,
  pieces: number,
): number {
  const r = n * FILE_FIELDS;
  const end = putPath(plan, i, job.paths, at);
  job.files[r] = i;
  job.files[r + 1] = flags;
  job.files[r + 2] = at;
  job.files[r + 3] = end - at;
  job.files[r + 4] = firstPiece;
  job.files[r + 5] = pieces;
  job.files[r + 6] = plan.files.jobMeta(i, job.meta, n * META_FIELDS);
  return end;
}

/** The job for window w: its distinct blobs (offsets relative to the window) and every file with pieces in it. */
function windowJob(
  plan: RestorePlan,
  w: number,
  pieces: Uint32Array,
  start: number,
  pieceFile: Uint32Array,
  pieceWindow: Uint32Array,
  spanning: ReadonlyMap<number, number>,
  skip: ReadonlySet<number>,
  ownerAsCreated: (i: number) => boolean,
): Omit<PackJob, 'job'> | undefined {
  const t = plan.files;
  // Blob numbers in the job, per piece of the window; pieces of one blob are adjacent (same offset).
  const blobOf = new Map<number, number>();
  const blobFirst: number[] = [];
  const files: number[] = [];
  const listed = new Set<number>();
  for (const k of pieces) {
    const off = t.packOffset(k);
    if (!blobOf.has(off)) blobOf.set(off, blobFirst.push(k) - 1);
    const f = pieceFile[k];
    if (listed.has(f)) continue;
    listed.add(f);
    if (!skip.has(f)) files.push(f);
  }
  if (files.length === 0) return undefined;
  let pathBytes = 0;
  let pieceTotal = 0;
  for (const f of files) {
    pathBytes += pathLength(plan, f);
    for (let k = t.firstPiece(f); k < t.firstPiece(f) + t.pieces(f); k++) if (pieceWindow[k] === w) pieceTotal++;
  }
  const job = newJob(t.packName(t.packOf(pieces[0])), blobFirst.length, files.length, pathBytes, pieceTotal);
  blobFirst.forEach((k, b) => {
    const o = b * BLOB_FIELDS;
    job.blobs[o] = t.packOffset(k) - start;
    job.blobs[o + 1] = t.storedLength(k);
    job.blobs[o + 2] = t.rawLength(k);
    job.blobs[o + 3] = t.zstd(k) ? 1 : 0;
    job.blobIds.set(t.pieceId(k), b * 32);
  });
  let at = 0;
  let q = 0;
  files.forEach((f, n) => {
    const first = q;
    let offset = 0;
    for (let k = t.firstPiece(f); k < t.firstPiece(f) + t.pieces(f); k++) {
      if (pieceWindow[k] === w) {
        job.pieceBlobs[q] = blobOf.get(t.packOffset(k))!;
        job.pieceOffsets[q++] = offset;
      }
      offset += t.rawLength(k);
    }
    at = putFile(
      plan,
      job,
      n,
      f,
      spanning.has(f) ? 0 : OWNER | (ownerAsCreated(f) ? OWNER_AS_CREATED : 0),
      at,
      first,
      q - first,
    );
  });
  return job;
}
