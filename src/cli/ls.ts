// `repo ls SNAPSHOT [PATH]`: lists everything in a snapshot (or under PATH in it), recursively, like restic ls.
// Output is streamed with back-pressure, so listing a huge snapshot holds one tree at a time per level.

import type { Command } from 'commander';
import { shortId } from '../core/id.js';
import { resolveSnapshotPath } from '../restorer/index.js';
import { findSnapshot } from '../snapshot/snapshot.js';
import { displayName, type TreeNode } from '../tree/node.js';
import { loadTree, storedTreeShapes } from '../tree/tree-store.js';
import { ValidatingReader } from '../tree/validate-reader.js';
import { addFilterFlags, Env, runtime, snapshotFilter, withRepository, writeTo, type FilterFlags } from './context.js';
import { formatTimestamp, modeString } from './format.js';
import { collect } from './parse.js';
import { snapshotJson } from './snapshots.js';

interface LsFlags extends FilterFlags {
  long?: boolean;
}

export function registerLs(program: Command): void {
  const cmd = program
    .command('ls')
    .description('list files and directories in a snapshot')
    .argument('<snapshot>', 'snapshot id (or a unique prefix of it), or "latest"')
    .argument(
      '[path]',
      'only list this path inside the snapshot and what is below it, as backed up, e.g. /home/me/docs',
    )
    .option('-l, --long', 'show mode, owner, size and modification time');
  addFilterFlags(cmd, collect).action((ref: string, path: string | undefined, flags: LsFlags, c: Command) =>
    runLs(Env.from(c), ref, path, flags),
  );
}

/** Buffers output lines and writes them in blocks, waiting when stdout is slow. */
class LineSink {
  private buf = '';

  async line(s: string): Promise<void> {
    this.buf += s + '\n';
    if (this.buf.length >= 64 * 1024) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.buf === '') return;
    const b = this.buf;
    this.buf = '';
    await writeTo(process.stdout, b);
  }
}

function nodeJson(node: TreeNode, path: string): Record<string, unknown> {
  const o: Record<string, unknown> = {
    name: displayName(node.name),
    type: node.type,
    path,
    uid: node.uid,
    gid: node.gid,
  };
  if (node.user !== undefined) o.user = node.user;
  if (node.group !== undefined) o.group = node.group;
  if (node.size !== undefined) o.size = node.size;
  if (node.linktarget !== undefined) o.linktarget = displayName(node.linktarget);
  Object.assign(o, {
    mode: node.mode,
    mtime: node.mtime,
    atime: node.atime,
    ctime: node.ctime,
    struct_type: 'node',
    message_type: 'node',
  });
  return o;
}

function longLine(node: TreeNode, path: string): string {
  const user = node.user ?? String(node.uid);
  const group = node.group ?? String(node.gid);
  const size = node.type === 'file' ? String(node.size ?? 0) : '0';
  let s = `${modeString(node.type, node.mode)} ${user.padEnd(8)} ${group.padEnd(8)} ${size.padStart(12)} ${formatTimestamp(node.mtime)} ${path}`;
  if (node.type === 'symlink' && node.linktarget !== undefined) s += ` -> ${displayName(node.linktarget)}`;
  return s;
}

async function runLs(env: Env, ref: string, subPath: string | undefined, flags: LsFlags): Promise<void> {
  const { out } = env;
  const sink = new LineSink();
  await withRepository(env, {}, async (repo) => {
    const sn = await findSnapshot(repo, ref, snapshotFilter(flags));
    const emit = async (node: TreeNode, path: string) => {
      if (out.json) await sink.line(JSON.stringify(nodeJson(node, path)));
      else await sink.line(flags.long ? longLine(node, path) : path);
    };
    // Unsafe nodes are left out and each named on standard error; exit 1 at the end (README, exit codes).
    const reader = new ValidatingReader(
      (id) => loadTree(repo, id),
      (line) => out.warn(line),
      storedTreeShapes(repo),
    );
    reader.snapshot = sn.id;
    const walk = async (treeId: string, prefix: string): Promise<void> => {
      for (const node of await reader.nodes(treeId, prefix)) {
        const path = `${prefix}/${displayName(node.name)}`;
        await emit(node, path);
        if (node.type === 'dir' && node.subtree !== undefined) await walk(node.subtree, path);
      }
    };
    if (out.json)
      await sink.line(JSON.stringify({ ...snapshotJson(sn), struct_type: 'snapshot', message_type: 'snapshot' }));
    else if (!out.quiet)
      process.stderr.write(`snapshot ${shortId(sn.id)} of [${sn.paths.join(' ')}] at ${formatTimestamp(sn.time)}:\n`);
    const resolved = await resolveSnapshotPath(repo, sn, subPath ?? '');
    if (resolved.node === undefined) {
      if (await reader.withinBounds(sn.tree)) await walk(sn.tree, '');
    } else {
      const parts = (subPath ?? '').split('/').filter((p) => p !== '' && p !== '.');
      const path = '/' + parts.join('/');
      await emit(resolved.node, path);
      if (resolved.treeId !== undefined && (await reader.withinBounds(resolved.treeId)))
        await walk(resolved.treeId, path);
    }
    if (reader.faults > 0) runtime.exitCode = 1;
  });
  await sink.flush();
}
