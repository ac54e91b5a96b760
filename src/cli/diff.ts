// `repo diff A B`: what changed between two snapshots (or SNAPSHOT:PATH subtrees), restic-style, streamed as it is found.
// Read-only (shared lock); subtrees with equal ids are never loaded.

import type { Command } from 'commander';
import { RepoError } from '../core/errors.js';
import { shortId } from '../core/id.js';
import type { Repository } from '../repository/repository.js';
import { resolveSnapshotPath } from '../restorer/index.js';
import { diffTrees, type DiffStat } from '../snapshot/diff.js';
import { findSnapshot, type StoredSnapshot } from '../snapshot/snapshot.js';
import { loadTree, storedTreeShapes } from '../tree/tree-store.js';
import { ValidatingReader } from '../tree/validate-reader.js';
import { Env, runtime, withRepository, writeTo } from './context.js';
import { formatBytes } from './format.js';
import { splitSnapshotPath } from './parse.js';

interface DiffFlags {
  metadata?: boolean;
}

export function registerDiff(program: Command): void {
  program
    .command('diff')
    .description('show differences between two snapshots')
    .argument(
      '<snapshot-a>',
      'the earlier snapshot (id, unique prefix or "latest"), optionally SNAPSHOT:PATH to compare a subfolder',
    )
    .argument('<snapshot-b>', 'the later snapshot, optionally SNAPSHOT:PATH')
    .option('--metadata', 'also show entries whose metadata (mode, owner, times) changed but not their content ("U")')
    .addHelpText(
      'after',
      '\nModifiers: + added, - removed, M content modified (M? with identical metadata: possible bit rot), T type changed, U metadata changed.',
    )
    .action((a: string, b: string, flags: DiffFlags, c: Command) => runDiff(Env.from(c), a, b, flags));
}

async function resolveTree(repo: Repository, arg: string): Promise<{ sn: StoredSnapshot; tree: string }> {
  const { ref, path } = splitSnapshotPath(arg);
  const sn = await findSnapshot(repo, ref);
  if (path === undefined || path === '' || path === '/') return { sn, tree: sn.tree };
  const r = await resolveSnapshotPath(repo, sn, path);
  if (r.treeId === undefined)
    throw new RepoError('INVALID_ARGUMENT', `${path} in snapshot ${shortId(sn.id)} is not a directory`);
  return { sn, tree: r.treeId };
}

function statJson(s: DiffStat): Record<string, number> {
  return {
    files: s.files,
    dirs: s.dirs,
    others: s.others,
    data_blobs: s.dataBlobs,
    tree_blobs: s.treeBlobs,
    bytes: s.bytes,
  };
}

async function runDiff(env: Env, argA: string, argB: string, flags: DiffFlags): Promise<void> {
  const out = env.out;
  let buf = '';
  const write = async (line: string) => {
    buf += line + '\n';
    if (buf.length >= 64 * 1024) {
      const b = buf;
      buf = '';
      await writeTo(process.stdout, b);
    }
  };
  await withRepository(env, { workers: 0 }, async (repo) => {
    const a = await resolveTree(repo, argA);
    const b = await resolveTree(repo, argB);
    // Unsafe nodes are left out and named on standard error (exit 1 at the end); a side beyond the expansion bound is refused whole.
    const readerA = new ValidatingReader(
      (id) => loadTree(repo, id),
      (line) => out.warn(line),
      storedTreeShapes(repo),
    );
    const readerB = new ValidatingReader(
      (id) => loadTree(repo, id),
      (line) => out.warn(line),
      storedTreeShapes(repo),
    );
    readerA.snapshot = a.sn.id;
    readerB.snapshot = b.sn.id;
    const bounded = (await readerA.withinBounds(a.tree)) && (await readerB.withinBounds(b.tree));
    if (!bounded) {
      runtime.exitCode = 1;
      return;
    }
    const loadSide = (id: string, path: string, side: 'a' | 'b') => (side === 'a' ? readerA : readerB).tree(id, path);
    if (!out.json && !out.quiet) await write(`comparing snapshot ${shortId(a.sn.id)} to ${shortId(b.sn.id)}:\n`);
    const r = await diffTrees(repo, a.tree, b.tree, {
      loadTree: loadSide,
      metadata: flags.metadata === true,
      collect: false,
      onChange: (c) =>
        write(
          out.json
            ? JSON.stringify({ message_type: 'change', path: c.path, modifier: c.modifier })
            : `${c.modifier.padEnd(5)}${c.path}`,
        ),
    });
    const s = r.stats;
    if (out.json) {
      await write(
        JSON.stringify({
          message_type: 'statistics',
          source_snapshot: a.sn.id,
          target_snapshot: b.sn.id,
          changed_files: s.changedFiles,
          added: statJson(s.added),
          removed: statJson(s.removed),
        }),
      );
    } else if (!out.quiet) {
      const n = (v: number) => String(v).padStart(5);
      await write('');
      await write(`Files:       ${n(s.added.files)} new, ${n(s.removed.files)} removed, ${n(s.changedFiles)} changed`);
      await write(`Dirs:        ${n(s.added.dirs)} new, ${n(s.removed.dirs)} removed`);
      await write(`Others:      ${n(s.added.others)} new, ${n(s.removed.others)} removed`);
      await write(`Data Blobs:  ${n(s.added.dataBlobs)} new, ${n(s.removed.dataBlobs)} removed`);
      await write(`Tree Blobs:  ${n(s.added.treeBlobs)} new, ${n(s.removed.treeBlobs)} removed`);
      await write(`  Added:   ${formatBytes(s.added.bytes)}`);
      await write(`  Removed: ${formatBytes(s.removed.bytes)}`);
    }
    if (readerA.faults + readerB.faults > 0) runtime.exitCode = 1;
  });
  if (buf !== '') await writeTo(process.stdout, buf);
}
