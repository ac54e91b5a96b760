// `check`: proves that every snapshot would restore, and names what is damaged and what it affects.
// It only reads; repairs are repair.ts's job. Problems are collected, never thrown, so one fault hides no other.

import { errorMessage } from '../core/errors.js';
import { Semaphore } from '../core/concurrency.js';
import { idFromHex, idToHex } from '../core/id.js';
import { AAD_INDEX } from '../repository/aad.js';
import { decodeIndexRecords } from '../repository/index-file.js';
import { parseKeyFile } from '../repository/keys.js';
import { MasterIndex } from '../repository/master-index.js';
import { loadPackHeader } from '../repository/pack-reader.js';
import { packPath, verifyStorageId, type Repository } from '../repository/repository.js';
import { loadSnapshot, sortByTime, type StoredSnapshot } from '../snapshot/snapshot.js';
import { decodeTree, type Tree } from '../tree/tree.js';
import { walkTree } from '../tree/walk.js';
import { GraphValidator } from './check-graph.js';
import { compareWithIndex, readPacks, type DataReadStats } from './check-data.js';
import { selectPacks } from './subset.js';

import {
  indexedEntries,
  indexedPackLength,
  locKey,
  type AffectedPath,
  type CheckContext,
  type CheckNote,
  type CheckOptions,
  type CheckProblem,
} from './check-context.js';

export type {
  AffectedPath,
  CheckContext,
  CheckNote,
  CheckOptions,
  CheckProblem,
  CheckProgress,
  ProblemKind,
} from './check-context.js';

export interface CheckReport {
  ok: boolean;
  problems: CheckProblem[];
  notes: CheckNote[];
  affected: AffectedPath[];
  counts: { keys: number; indexFiles: number; packs: number; blobs: number; snapshots: number; trees: number };
  readData?: DataReadStats & RestoreEstimate;
}

/**
 * A read rate counts only when the check read at least this much, or every pack of the repository: a first
 * check that read one 333-byte pack measured mostly latency, and extrapolating it gave an RTO of hours for 40 MB.
 */
export const MIN_RATE_BYTES = 64 * 1024 * 1024;
/** A --read-data-subset that reads at least MIN_RATE_BYTES (random packs up to twice that: packs are at most 128 MiB). */
export const MIN_RATE_SUBSET = '128M';

/** What a full restore reads, and how long that takes at the read rate this check measured. */
export interface RestoreEstimate {
  /** Newest snapshot overall. */
  latestSnapshot?: string;
  /** The newest snapshot of every path set (each set of backed-up paths): what "restore everything" means. */
  restoreSnapshots?: string[];
  /** Stored bytes of the distinct blobs those snapshots reference: what a restore reads and decrypts. */
  restoreStoredBytes?: number;
  /** Whether the read rate counts: at least MIN_RATE_BYTES read, or every pack. */
  rateMeasured?: boolean;
  /** restoreStoredBytes / bytesPerSecond, only when the rate counts. Reading only: writing files is not measured. */
  estimatedRestoreSeconds?: number;
}

/** Whether a check that read `bytesRead` in `packsRead` of `packsTotal` packs measured a read rate worth extrapolating. */
export function rateMeasured(bytesRead: number, packsRead: number, packsTotal: number): boolean {
  return bytesRead >= MIN_RATE_BYTES || (packsTotal > 0 && packsRead >= packsTotal);
}

export async function checkRepository(repo: Repository, opts: CheckOptions = {}): Promise<CheckReport> {
  const ctx: CheckContext = {
    repo,
    index: new MasterIndex(),
    packRecords: new Map(),
    packSizes: new Map(),
    problems: [],
    notes: [],
    badLocations: new Set(),
    opts,
  };
  const phase = (name: string) => opts.onProgress?.({ phase: name, done: 0, total: 0 });
  phase('checking keys');
  const keys = await checkKeys(ctx);
  phase('loading the index');
  const indexFiles = await loadIndexes(ctx);
  phase('listing packs');
  for await (const f of repo.backend.list('data')) ctx.packSizes.set(f.name, f.size);
  checkPackPresence(ctx);

  const toRead = opts.readData || opts.subset ? selectPacks(ctx.packSizes, opts.subset) : [];
  const readSet = new Set(toRead);
  await checkHeaders(
    ctx,
    [...ctx.packRecords.keys()].filter((p) => ctx.packSizes.has(p) && !readSet.has(p)),
  );
  const wantData = toRead.length > 0 || opts.readData === true || opts.subset !== undefined;
  // Reading packs keeps the worker threads busy while this thread is mostly idle, so the snapshot graph
  // is walked meanwhile. A tree in a damaged pack may then be tried before the reader flags the pack;
  // it fails its own authentication and is reported either way.
  const reading = wantData ? readPacks(ctx, toRead) : Promise.resolve(undefined);
  if (!wantData) phase('checking snapshots and trees');
  const walking = (async () => {
    const snapshots = await loadSnapshots(ctx);
    const { trees, heads, headsStored, oversize } = await checkGraph(ctx, snapshots);
    return { snapshots, trees, latest: snapshots[snapshots.length - 1], heads, stored: headsStored, oversize };
  })();
  const [read, walked] = await Promise.allSettled([reading, walking]);
  if (read.status === 'rejected') throw read.reason;
  if (walked.status === 'rejected') throw walked.reason;
  const dataStats = read.value;
  const { snapshots, trees, latest, heads, stored, oversize } = walked.value;
  // Mapping walks every path, so snapshots beyond the expansion bound (reported already) are left out.
  const affected =
    ctx.badLocations.size > 0
      ? await mapAffected(
          ctx,
          snapshots.filter((sn) => !oversize.has(sn.id)),
        )
      : [];
  let readData: CheckReport['readData'];
  if (dataStats) {
    readData = {
      ...dataStats,
      rateMeasured: rateMeasured(dataStats.bytesRead, dataStats.packsRead, ctx.packSizes.size),
    };
    if (latest && stored !== undefined) {
      readData.latestSnapshot = latest.id;
      readData.restoreSnapshots = heads.map((h) => h.id);
      readData.restoreStoredBytes = stored;
      if (readData.rateMeasured && dataStats.bytesPerSecond > 0)
        readData.estimatedRestoreSeconds = stored / dataStats.bytesPerSecond;
    }
  }
  return {
    ok: ctx.problems.length === 0,
    problems: ctx.problems,
    notes: ctx.notes,
    affected,
    counts: { keys, indexFiles, packs: ctx.packSizes.size, blobs: ctx.index.size, snapshots: snapshots.length, trees },
    readData,
  };
}

async function checkKeys(ctx: CheckContext): Promise<number> {
  const names = await ctx.repo.listNames('keys');
  for (const name of names) {
    try {
      const bytes = await ctx.repo.backend.load({ type: 'keys', name });
      verifyStorageId(bytes, 'keys', name);
      parseKeyFile(bytes, name);
    } catch (err) {
      ctx.problems.push({ kind: 'key', message: `key file keys/${name}: ${errorMessage(err)}`, file: `keys/${name}` });
    }
  }
  return names.length;
}

async function loadIndexes(ctx: CheckContext): Promise<number> {
  const names = await ctx.repo.listNames('index');
  const superseded = new Set<string>();
  for (const name of names) {
    try {
      const idx = decodeIndexRecords(await ctx.repo.loadUnpacked('index', name, AAD_INDEX), name);
      for (const s of idx.supersedes) superseded.add(s);
      for (const p of idx.packs) {
        if (!ctx.packRecords.has(p.pack)) ctx.packRecords.set(p.pack, p.records);
        ctx.index.addRecords(p.pack, p.records);
      }
    } catch (err) {
      ctx.problems.push({
        kind: 'index',
        message: `index file index/${name}: ${errorMessage(err)}`,
        file: `index/${name}`,
      });
    }
  }
  for (const s of superseded) {
    if (names.includes(s))
      ctx.notes.push({
        kind: 'superseded-index',
        message: `index/${s} is superseded (left by an interrupted prune or repair; the next prune removes it — do not delete it by hand)`,
        file: `index/${s}`,
      });
  }
  return names.length;
}

function checkPackPresence(ctx: CheckContext): void {
  for (const pack of ctx.packRecords.keys()) {
    const size = ctx.packSizes.get(pack);
    if (size === undefined) {
      ctx.problems.push({
        kind: 'pack-missing',
        message: `pack ${pack} is named by the index but missing`,
        pack,
        file: packPath(pack),
      });
      for (const e of indexedEntries(ctx, pack)) ctx.badLocations.add(locKey(pack, e));
    } else if (size !== indexedPackLength(ctx, pack)) {
      ctx.problems.push({
        kind: 'pack-size',
        message: `pack ${pack} is ${size} bytes but the index implies ${indexedPackLength(ctx, pack)}`,
        pack,
        file: packPath(pack),
      });
    }
  }
  for (const pack of ctx.packSizes.keys()) {
    if (!ctx.packRecords.has(pack)) {
      ctx.notes.push({
        kind: 'unreferenced-pack',
        message: `pack ${pack} is not in any index (an interrupted backup; prune removes it, repair index adopts it)`,
        file: packPath(pack),
      });
    }
  }
  for (const d of ctx.index.duplicates()) {
    ctx.notes.push({
      kind: 'duplicate-blob',
      message: `${d.type} blob ${idToHex(d.id)} is stored in ${d.count} packs`,
    });
  }
}

async function checkHeaders(ctx: CheckContext, packs: string[]): Promise<void> {
  const sem = new Semaphore(ctx.opts.concurrency ?? 8);
  let done = 0;
  await Promise.all(
    packs.map((pack) =>
      sem.run(async () => {
        try {
          const header = await loadPackHeader(ctx.repo.backend, ctx.repo.key.encryption, pack, ctx.packSizes.get(pack));
          compareWithIndex(ctx, pack, header);
        } catch (err) {
          ctx.problems.push({
            kind: 'pack-header',
            message: `pack ${pack}: ${errorMessage(err)}`,
            pack,
            file: packPath(pack),
          });
          for (const e of indexedEntries(ctx, pack)) ctx.badLocations.add(locKey(pack, e));
        }
        ctx.opts.onProgress?.({ phase: 'pack headers', done: ++done, total: packs.length });
      }),
    ),
  );
}

async function loadSnapshots(ctx: CheckContext): Promise<StoredSnapshot[]> {
  const out: StoredSnapshot[] = [];
  for (const name of await ctx.repo.listNames('snapshots')) {
    try {
      out.push(await loadSnapshot(ctx.repo, name));
    } catch (err) {
      ctx.problems.push({
        kind: 'snapshot',
        message: `snapshot ${name}: ${errorMessage(err)}`,
        snapshot: name,
        file: `snapshots/${name}`,
      });
    }
  }
  return sortByTime(out);
}

/** Loads a tree through check's own index, trying every location, so damage shows as a problem not a crash. */
export function treeLoader(ctx: CheckContext): (id: string) => Promise<Tree> {
  return async (id) => {
    const locs = ctx.index.lookupAll('tree', idFromHex(id));
    if (locs.length === 0) throw new Error(`tree ${id} is not in the index`);
    let first: unknown;
    for (const loc of locs) {
      if (ctx.badLocations.has(locKey(loc.pack, loc))) continue;
      try {
        return decodeTree(await ctx.repo.loadBlobAt(loc), id);
      } catch (err) {
        first ??= err;
      }
    }
    throw first ?? new Error(`tree ${id} is only stored in damaged packs`);
  };
}

/** The newest snapshot of each path set (snapshots are oldest first). */
export function newestPerPathSet<T extends { paths: string[] }>(snapshots: T[]): T[] {
  const by = new Map<string, T>();
  for (const sn of snapshots) by.set(JSON.stringify([...sn.paths].sort()), sn);
  return [...by.values()];
}

/**
 * Walks every snapshot once per distinct tree: every tree must load and every data blob must be indexed.
 * The newest snapshot of each path set goes first, so all of their trees are visited in their own walks,
 * which also sum the stored bytes of their distinct blobs (the restore-time estimate) without a second walk.
 */
async function checkGraph(
  ctx: CheckContext,
  snapshots: StoredSnapshot[],
): Promise<{ trees: number; heads: StoredSnapshot[]; headsStored?: number; oversize: Set<string> }> {
  const seen = new Set<string>();
  const validator = new GraphValidator(ctx.problems);
  const load = validator.wrap(treeLoader(ctx));
  const heads = newestPerPathSet(snapshots);
  const headSet = new Set(heads);
  // Per index entry, whether its stored bytes are summed yet; ids looked up through one scratch buffer. The walk
  // meets every content id of every distinct tree: a Set of strings and an object per lookup cost the main
  // thread (which shares the cores with the verify threads) about 0.2 s on the kernel repository.
  // Every id here is valid lowercase hex already: loadSnapshot checks a snapshot's tree, decodeTree every
  // content and subtree id.
  const counted = new Uint8Array(ctx.index.size);
  const scratch = Buffer.alloc(32);
  const find = (type: 'data' | 'tree', hex: string): number => {
    scratch.write(hex, 'hex');
    return ctx.index.find(type, scratch);
  };
  let stored = 0;
  const count = (entry: number) => {
    if (entry < 0 || counted[entry] === 1) return;
    counted[entry] = 1;
    stored += ctx.index.storedLengthAt(entry);
  };
  for (const sn of [...heads, ...snapshots.filter((x) => !headSet.has(x))]) {
    const isHead = headSet.has(sn);
    if (isHead) count(find('tree', sn.tree));
    validator.snapshot = sn;
    await walkTree(
      load,
      sn.tree,
      {
        node: (n, path) => {
          for (const c of n.content ?? []) {
            const entry = find('data', c);
            if (entry < 0) {
              ctx.problems.push({
                kind: 'blob-missing',
                message: `data blob ${c} of ${path} is not in the index`,
                blob: c,
                snapshot: sn.id,
                path,
              });
            } else if (isHead) count(entry);
          }
          if (isHead && n.subtree) count(find('tree', n.subtree));
        },
        treeError: (treeId, path, err) => {
          ctx.problems.push({
            kind: 'tree',
            message: `tree ${treeId} at ${path || '/'}: ${errorMessage(err)}`,
            snapshot: sn.id,
            path: path || '/',
          });
        },
      },
      { uniqueTrees: true, seen },
    );
  }
  const oversize = await validator.checkBounds(snapshots);
  return { trees: seen.size, heads, headsStored: heads.length > 0 ? stored : undefined, oversize };
}

async function mapAffected(ctx: CheckContext, snapshots: StoredSnapshot[]): Promise<AffectedPath[]> {
  const lost = (hex: string) => {
    const locs = ctx.index.lookupAll('data', idFromHex(hex));
    return locs.length === 0 || locs.every((l) => ctx.badLocations.has(locKey(l.pack, l)));
  };
  const out: AffectedPath[] = [];
  const load = treeLoader(ctx);
  for (const sn of snapshots) {
    await walkTree(load, sn.tree, {
      node: (n, path) => {
        // One entry per file (with its first lost blob), not one per lost blob: a big file would be listed many times.
        const c = n.content?.find(lost);
        if (c !== undefined) out.push({ snapshot: sn.id, path, blob: c });
      },
      treeError: () => undefined, // already reported by checkGraph
    });
  }
  return out;
}
