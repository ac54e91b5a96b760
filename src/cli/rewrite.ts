// `repo rewrite [SNAPSHOT...] --exclude PATTERN…`: new snapshots without the matched files (restic's rewrite).
// Shared lock unless --forget removes the originals (exclusive); --dry-run stores nothing.

import type { Command } from 'commander';
import { compileRules } from '../archiver/exclude.js';
import { RepoError } from '../core/errors.js';
import { describeRewrite, rewriteSnapshots } from '../maintenance/rewrite.js';
import { excludeRules } from './backup.js';
import { addFilterFlags, Env, withRepository, type FilterFlags } from './context.js';
import { collect } from './parse.js';
import { selectSnapshots } from './stats.js';

interface RewriteFlags extends FilterFlags {
  exclude?: string[];
  iexclude?: string[];
  excludeFile?: string[];
  iexcludeFile?: string[];
  forget?: boolean;
  dryRun?: boolean;
}

export function registerRewrite(program: Command): void {
  const cmd = program
    .command('rewrite')
    .description('rewrite snapshots to exclude files (the originals stay unless --forget; prune removes the data)')
    .argument('[snapshots...]', 'snapshot ids (or unique prefixes, or "latest"); default: all matching the filters')
    .option('-e, --exclude <pattern>', 'exclude paths matching the pattern (repeatable)', collect)
    .option('--iexclude <pattern>', 'like --exclude, ignoring case (repeatable)', collect)
    .option('--exclude-file <file>', 'read exclude patterns from a file, one per line (repeatable)', collect)
    .option('--iexclude-file <file>', 'like --exclude-file, ignoring case (repeatable)', collect)
    .option('--forget', 'remove the original snapshots after the new ones are saved (no "rewrite" tag then)')
    .option('-n, --dry-run', 'only show what would be done');
  addFilterFlags(cmd, collect).action((refs: string[], flags: RewriteFlags, c: Command) =>
    runRewrite(Env.from(c), refs, flags),
  );
}

async function runRewrite(env: Env, refs: string[], flags: RewriteFlags): Promise<void> {
  const rules = await excludeRules(flags); // malformed patterns and unreadable files fail before the password
  if (rules.length === 0)
    throw new RepoError(
      'INVALID_ARGUMENT',
      'nothing to do: give --exclude, --iexclude, --exclude-file or --iexclude-file',
    );
  const exclude = compileRules(rules);
  const dryRun = flags.dryRun === true;
  const results = await withRepository(
    env,
    { workers: 0, dryRun },
    async (repo) =>
      rewriteSnapshots(repo, await selectSnapshots(repo, refs, flags), {
        exclude,
        forget: flags.forget === true,
        dryRun,
        onExcluded: (sn, path) => env.out.debug(`excluding ${path} from ${sn.slice(0, 8)}`),
      }),
    flags.forget === true && !dryRun ? 'exclusive' : 'shared',
  );
  const changed = results.filter((r) => r.excluded.length > 0);
  if (env.out.json) {
    for (const r of changed)
      env.out.printJson({
        message_type: 'rewritten_snapshot',
        original_snapshot_id: r.original,
        ...(r.rewritten === undefined ? {} : { new_snapshot_id: r.rewritten }),
        excluded: r.excluded,
        removed_original: r.removedOriginal,
        dry_run: dryRun,
      });
    env.out.printJson({ message_type: 'summary', modified_snapshots: changed.length, dry_run: dryRun });
    return;
  }
  for (const r of results) env.out.info(describeRewrite(r, dryRun));
  const n = changed.length;
  const what = `${n} snapshot${n === 1 ? '' : 's'}`;
  env.out.info(
    n === 0
      ? `no snapshots ${dryRun ? 'would be' : 'were'} modified`
      : dryRun
        ? `would modify ${what}`
        : `modified ${what}`,
  );
}
