// `repo list blobs|packs|index|snapshots|keys|locks` and `repo list packs SNAPSHOT`: one id per line, as restic
// prints them (blobs as "TYPE ID"); --json gives one object per line with what the listing knows besides.

import type { Command } from 'commander';
import { RepoError } from '../core/errors.js';
import { isListKind, LIST_KINDS, listBlobs, listFiles, snapshotPacks } from '../maintenance/list.js';
import { findSnapshot } from '../snapshot/snapshot.js';
import { Env, withRepository } from './context.js';

export function registerList(program: Command): void {
  program
    .command('list')
    .description('list objects in the repository by type')
    .argument('<type>', LIST_KINDS.join('|'))
    .argument('[snapshot]', 'with "packs": list only the packs the snapshot uses')
    .action(async (kind: string, snapshot: string | undefined, _flags: unknown, c: Command) => {
      const env = Env.from(c);
      if (!isListKind(kind))
        throw new RepoError('INVALID_ARGUMENT', `invalid type "${kind}": must be one of ${LIST_KINDS.join(', ')}`);
      if (snapshot !== undefined && kind !== 'packs')
        throw new RepoError('INVALID_ARGUMENT', `too many arguments: only "list packs SNAPSHOT" takes a snapshot`);
      const needIndex = kind === 'blobs' || snapshot !== undefined;
      // Listing locks must work while the repository is locked (restic lists them without a lock).
      await withRepository(
        env,
        { workers: 0, skipIndex: !needIndex },
        async (repo) => {
          if (kind === 'blobs') {
            for (const b of listBlobs(repo)) {
              if (env.out.json) env.out.printJson(b);
              else env.out.print(`${b.type} ${b.id}`);
            }
          } else if (snapshot !== undefined) {
            for (const p of await snapshotPacks(repo, await findSnapshot(repo, snapshot))) {
              if (env.out.json) env.out.printJson({ id: p });
              else env.out.print(p);
            }
          } else {
            for (const f of await listFiles(repo, kind)) {
              if (env.out.json) env.out.printJson(f);
              else env.out.print(f.id);
            }
          }
        },
        kind === 'locks' ? 'none' : 'shared',
      );
    });
}
