// `repo recover`: saves a snapshot of the trees no snapshot references (restic's recover), e.g. after a
// snapshot file was deleted by mistake. Exclusive lock, as restic takes; removes nothing.

import type { Command } from 'commander';
import { shortId } from '../core/id.js';
import { recoverTrees } from '../maintenance/recover.js';
import { Env, withRepository } from './context.js';

export function registerRecover(program: Command): void {
  program
    .command('recover')
    .description('save a snapshot holding the directory trees that no snapshot references')
    .option('-n, --dry-run', 'only show the trees that would be recovered')
    .action(async (flags: { dryRun?: boolean }, c: Command) => {
      const env = Env.from(c);
      const dryRun = flags.dryRun === true;
      const r = await withRepository(
        env,
        { workers: 0 },
        (repo) =>
          recoverTrees(repo, {
            dryRun,
            onTreeError: (id, m) => env.out.warn(`unable to load tree ${shortId(id)}: ${m}`),
          }),
        'exclusive',
      );
      if (env.out.json) {
        env.out.printJson({
          message_type: 'recover',
          trees: r.trees,
          roots: r.roots,
          ...(r.snapshot === undefined ? {} : { snapshot_id: r.snapshot }),
          dry_run: dryRun,
        });
        return;
      }
      env.out.info(`loaded ${r.trees} trees`);
      for (const root of r.roots) env.out.debug(`found root tree ${shortId(root)}`);
      env.out.info(`found ${r.roots.length} unreferenced roots`);
      if (r.roots.length === 0) env.out.info('no snapshot to write.');
      else if (r.snapshot !== undefined) env.out.info(`saved new snapshot ${shortId(r.snapshot)}`);
    });
}
