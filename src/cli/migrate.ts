// `repo migrate [--dry-run]`: upgrades a format-1 repository in place to format 2 (keyed chunker, padded blobs).
// The work and its crash safety are in maintenance/migrate.ts; this file only parses, locks and reports.

import type { Command } from 'commander';
import { migrateToFormat2 } from '../maintenance/migrate.js';
import { Env, withRepository } from './context.js';

interface MigrateFlags {
  dryRun?: boolean;
}

const DEDUPE_NOTE =
  'Data already stored keeps its format-1 chunks (public boundaries) and stays restorable; new backups cut ' +
  'with the keyed chunker, so a file backed up before and after the upgrade is stored again once (no dedupe ' +
  'between old and new chunks). To protect old data too, copy the snapshots into a fresh format-2 repository ' +
  '("repo init" there, then "repo copy --from-repo THIS") and retire this one.';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('upgrade the repository in place to format 2 (keyed chunker, padded blobs)')
    .option('--dry-run', 'only say what would change')
    .addHelpText('after', `\n${DEDUPE_NOTE}\n`)
    .action((flags: MigrateFlags, c: Command) => runMigrate(Env.from(c), flags));
}

async function runMigrate(env: Env, flags: MigrateFlags): Promise<void> {
  const dryRun = flags.dryRun === true;
  // Exclusive: a backup running with the old config would go on writing format-1 chunks after the upgrade.
  const plan = await withRepository(
    env,
    { skipIndex: true },
    (repo) => migrateToFormat2(repo, { dryRun }),
    dryRun ? 'shared' : 'exclusive',
  );
  const { out } = env;
  if (out.json) {
    out.printJson({
      message_type: 'migrate',
      from: plan.from,
      to: plan.to,
      changed: plan.needed && !dryRun,
      dry_run: dryRun,
    });
    return;
  }
  if (!plan.needed) {
    out.info(`the repository already is format ${plan.from}: nothing to do`);
    return;
  }
  out.info(
    `${dryRun ? 'would upgrade' : 'upgraded'} the repository from format ${plan.from} to format ${plan.to} ` +
      `(chunker ${plan.config.chunker.algorithm} with a new secret, blob padding ${String(plan.config.blob_padding)})`,
  );
  out.info(DEDUPE_NOTE);
}
