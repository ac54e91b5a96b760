// `repo tag [SNAPSHOT...] --add/--remove/--set TAGS`: changes snapshot tags by rewriting the snapshot files.
// Takes an exclusive lock, because it removes snapshot files; with no ids, every snapshot matching the filters is changed.

import type { Command } from 'commander';
import { shortId } from '../core/id.js';
import { tagSnapshots, validateTagChanges, type TagChanges } from '../snapshot/tag.js';
import { addFilterFlags, Env, withRepository, type FilterFlags } from './context.js';
import { collect, flattenTags } from './parse.js';
import { selectSnapshots } from './stats.js';

interface TagFlags extends FilterFlags {
  add?: string[];
  remove?: string[];
  set?: string[];
}

export function registerTag(program: Command): void {
  const cmd = program
    .command('tag')
    .description('add, remove or replace tags of snapshots')
    .argument(
      '[snapshots...]',
      'snapshot ids (or unique prefixes, or "latest"); default: all snapshots matching the filters',
    )
    .option('--add <tags>', 'add these comma-separated tags (repeatable)', collect)
    .option('--remove <tags>', 'remove these comma-separated tags (repeatable)', collect)
    .option(
      '--set <tags>',
      'replace all tags with these comma-separated tags (repeatable; --set "" removes all)',
      collect,
    );
  addFilterFlags(cmd, collect).action((refs: string[], flags: TagFlags, c: Command) =>
    runTag(Env.from(c), refs, flags),
  );
}

/** Flag values → changes; an absent flag stays undefined, so `--set ""` (clear) differs from no --set. */
export function tagChanges(flags: Pick<TagFlags, 'add' | 'remove' | 'set'>): TagChanges {
  const c: TagChanges = {};
  if (flags.add !== undefined) c.add = flattenTags(flags.add);
  if (flags.remove !== undefined) c.remove = flattenTags(flags.remove);
  if (flags.set !== undefined) c.set = flattenTags(flags.set);
  return c;
}

async function runTag(env: Env, refs: string[], flags: TagFlags): Promise<void> {
  const changes = tagChanges(flags);
  validateTagChanges(changes); // before asking for a password
  const results = await withRepository(
    env,
    { workers: 0 },
    async (repo) => tagSnapshots(repo, await selectSnapshots(repo, refs, flags), changes),
    'exclusive',
  );
  if (env.out.json) {
    for (const r of results)
      env.out.printJson({
        message_type: 'changed_snapshot',
        old_snapshot_id: r.oldId,
        new_snapshot_id: r.newId,
        tags: r.tags,
      });
    env.out.printJson({ message_type: 'summary', changed_snapshots: results.length });
    return;
  }
  for (const r of results) env.out.debug(`snapshot ${shortId(r.oldId)} → ${shortId(r.newId)}: [${r.tags.join(', ')}]`);
  env.out.info(
    results.length === 0
      ? 'no snapshots were modified'
      : `modified ${results.length} snapshot${results.length === 1 ? '' : 's'}`,
  );
}
