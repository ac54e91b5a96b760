// `repo repair index|snapshots|packs`: rebuilds the index from packs, rewrites snapshots around lost data,
// and salvages the readable blobs of damaged packs. Exclusive lock; new data is stored before old data is removed.

import type { Command } from 'commander';
import { repairIndex } from '../maintenance/repair-index.js';
import { repairPacks } from '../maintenance/repair-packs.js';
import { repairSnapshots } from '../maintenance/repair-snapshots.js';
import { findSnapshot } from '../snapshot/snapshot.js';
import { acknowledgeAuditProblems } from '../ops/audit.js';
import { Env, withRepository } from './context.js';
import { resolveIdPrefix } from './parse.js';
import { snakeKeys } from './json-messages.js';

export function registerRepair(program: Command): void {
  const repair = program.command('repair').description('repair a damaged repository');
  repair
    .command('audit')
    .description('acknowledge removed or damaged audit log entries (check then reports them as notes)')
    .action(async (_flags: unknown, c: Command) => {
      const env = Env.from(c);
      const ids = await withRepository(env, { skipIndex: true }, (repo) => acknowledgeAuditProblems(repo), 'exclusive');
      env.out.info(
        ids.length === 0 ? 'the audit log has no problems' : `acknowledged ${ids.length} audit log problems`,
      );
    });
  repair
    .command('index')
    .description('rebuild the index from the pack files')
    .option('--read-all-packs', 'read every pack in full (finds damaged packs) instead of only headers where needed')
    .option('-n, --dry-run', 'only show what would be done')
    .action(async (flags: { readAllPacks?: boolean; dryRun?: boolean }, c: Command) => {
      const env = Env.from(c);
      const r = await withRepository(
        env,
        { skipIndex: true },
        (repo) => repairIndex(repo, { readAllPacks: flags.readAllPacks, dryRun: flags.dryRun }),
        'exclusive',
      );
      if (env.out.json) return env.out.printJson({ message_type: 'repair_index', ...(snakeKeys(r) as object) });
      env.out.info(`indexed ${r.blobs} blobs in ${r.packs} packs (${r.packsReadFromStorage} pack headers read)`);
      for (const u of r.unreadablePacks)
        env.out.warn(
          `pack ${u.pack} cannot be read and was ${u.kept ? 'kept in the index as it was' : 'left out of the index'}: ${u.message}`,
        );
      for (const d of r.damagedPacks)
        env.out.warn(
          `pack ${d.pack} is damaged (${d.damagedBlobs} blobs unreadable): run "repo repair packs ${d.pack}"`,
        );
      if (!flags.dryRun)
        env.out.info(`wrote ${r.newIndexFiles.length} index files, removed ${r.removedIndexFiles.length}`);
    });
  repair
    .command('snapshots')
    .description('rewrite snapshots that reference lost data, keeping everything still readable')
    .argument('[snapshot...]', 'snapshots to repair (default: all)')
    .option('--forget', 'remove the original snapshots after the repaired ones are saved')
    .option('-n, --dry-run', 'only show what would change')
    .action(async (ids: string[], flags: { forget?: boolean; dryRun?: boolean }, c: Command) => {
      const env = Env.from(c);
      const r = await withRepository(
        env,
        {},
        async (repo) => {
          const full: string[] = [];
          for (const id of ids) full.push((await findSnapshot(repo, id)).id);
          return repairSnapshots(repo, { snapshots: full, forget: flags.forget, dryRun: flags.dryRun });
        },
        'exclusive',
      );
      if (env.out.json) return env.out.printJson({ message_type: 'repair_snapshots', ...(snakeKeys(r) as object) });
      for (const u of r.unreadable) {
        env.out.warn(
          `snapshot ${u.id.slice(0, 8)} cannot be read${r.forgotten.includes(u.id) ? ' and was removed' : ' (--forget removes it)'}: ${u.message}`,
        );
      }
      for (const s of r.repaired) {
        env.out.info(
          `snapshot ${s.original.slice(0, 8)}${s.repaired ? ` → ${s.repaired.slice(0, 8)}` : ' (dry run)'}:`,
        );
        for (const ch of s.changes) env.out.info(`  ${ch.path}: ${ch.change}`);
      }
      env.out.info(
        `${r.repaired.length} snapshots repaired, ${r.unchanged.length} unchanged, ${r.unreadable.length} unreadable, ${r.forgotten.length} removed`,
      );
    });
  repair
    .command('packs')
    .description('move the readable blobs of damaged packs into new packs and drop the damaged packs')
    .argument('<pack...>', 'ids of the damaged packs (as check names them), or unique prefixes')
    .option('-n, --dry-run', 'only show what would be salvaged')
    .action(async (packs: string[], flags: { dryRun?: boolean }, c: Command) => {
      const env = Env.from(c);
      const r = await withRepository(
        env,
        {},
        async (repo) => {
          // Short ids as everywhere else; a full id is taken as given (the pack may be the one that is missing).
          const short = packs.some((p) => p.length < 64);
          const names = short ? await repo.listNames('data') : [];
          const ids = packs.map((p) => (p.length < 64 ? resolveIdPrefix(names, p, 'pack') : p));
          const salvage = await repo.sibling({ skipIndex: true });
          try {
            return await repairPacks(repo, salvage, ids, { dryRun: flags.dryRun });
          } finally {
            await salvage.close().catch(() => undefined);
          }
        },
        'exclusive',
      );
      if (env.out.json) return env.out.printJson({ message_type: 'repair_packs', ...(snakeKeys(r) as object) });
      for (const p of r.packs) env.out.info(`pack ${p.pack.slice(0, 8)}: ${p.salvaged} blobs salvaged, ${p.lost} lost`);
      if (r.packs.some((p) => p.lost > 0))
        env.out.info('run "repo repair snapshots" to rewrite the snapshots that used the lost blobs');
    });
}
