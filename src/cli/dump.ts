// `repo dump SNAPSHOT PATH`: a file's bytes, or a directory as a tar stream, on standard output. The writers
// are dump/dump.ts's, shared with `repo ui`'s downloads.

import type { Command } from 'commander';
import { RepoError } from '../core/errors.js';
import { writeArchive, writeFile } from '../dump/dump.js';
import { resolveSnapshotPath } from '../restorer/index.js';
import { findSnapshot } from '../snapshot/snapshot.js';
import { addFilterFlags, Env, runtime, snapshotFilter, withRepository, type FilterFlags } from './context.js';
import { collect } from './parse.js';

interface DumpFlags extends FilterFlags {
  archive?: string;
}

export function registerDump(program: Command): void {
  const cmd = program
    .command('dump')
    .description('write a file from a snapshot to standard output, or a directory as a tar archive')
    .argument('<snapshot>', 'snapshot id (or a unique prefix of it), or "latest"')
    .argument('<path>', 'path inside the snapshot, e.g. /docs/a.txt; "/" dumps the whole snapshot')
    .option('-a, --archive <format>', 'archive format for directories (only "tar")', 'tar');
  addFilterFlags(cmd, collect).action((ref: string, path: string, flags: DumpFlags, c: Command) =>
    runDump(Env.from(c), ref, path, flags),
  );
}

async function runDump(env: Env, ref: string, path: string, flags: DumpFlags): Promise<void> {
  const archive = flags.archive ?? 'tar';
  if (archive !== 'tar')
    throw new RepoError(
      'INVALID_ARGUMENT',
      `unsupported --archive ${JSON.stringify(archive)}: only "tar" is supported`,
    );
  const signal = env.signal;
  await withRepository(env, {}, async (repo) => {
    const sn = await findSnapshot(repo, ref, snapshotFilter(flags));
    const resolved = await resolveSnapshotPath(repo, sn, path);
    const node = resolved.node;
    if (node !== undefined && node.type === 'file') {
      await writeFile(repo, node, path, process.stdout, signal);
      return;
    }
    if (process.stdout.isTTY) {
      throw new RepoError(
        'INVALID_ARGUMENT',
        `${path} is not a regular file and would be written as a tar archive: redirect standard output to a file or a pipe`,
      );
    }
    // Refused nodes are named on standard error and left out; exit 1 at the end (README, exit codes).
    const faults = await writeArchive(repo, sn, resolved, path, process.stdout, signal, (line) => env.out.warn(line));
    if (faults > 0) runtime.exitCode = 1;
  });
}
