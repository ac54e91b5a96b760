// `repo forget`: removes snapshots by id or by a retention policy with restic's flags and semantics (exclusive lock).
// With --prune it then frees the space; without, only snapshot files are removed.

import type { Command } from 'commander';
import { withContext } from '../core/errors.js';
import { executeForget, planForget, type ForgetPlan } from '../maintenance/forget.js';
import {
  describePolicy,
  formatGroupKey,
  parseDuration,
  parseGroupBy,
  parseKeepCount,
  DEFAULT_GROUP_BY,
  type RetentionPolicy,
} from '../policy/index.js';
import {
  findSnapshot,
  listSnapshots,
  matchesFilter,
  REPAIR_SNAPSHOTS_HINT,
  type StoredSnapshot,
} from '../snapshot/snapshot.js';
import { addFilterFlags, Env, snapshotFilter, withRepository, type FilterFlags } from './context.js';
import { formatTimestamp, renderTable } from './format.js';
import { collect } from './parse.js';
import { addPruneFlags, pruneRepository, type PruneFlags } from './prune.js';
import { snapshotJson } from './snapshots.js';

interface ForgetFlags extends FilterFlags, PruneFlags {
  keepLast?: string;
  keepHourly?: string;
  keepDaily?: string;
  keepWeekly?: string;
  keepMonthly?: string;
  keepYearly?: string;
  keepWithin?: string;
  keepWithinHourly?: string;
  keepWithinDaily?: string;
  keepWithinWeekly?: string;
  keepWithinMonthly?: string;
  keepWithinYearly?: string;
  keepTag?: string[];
  groupBy?: string;
  dryRun?: boolean;
  prune?: boolean;
  unsafeAllowRemoveAll?: boolean;
}

export function registerForget(program: Command): void {
  const cmd = program
    .command('forget')
    .description('remove snapshots by id or by a retention policy')
    .argument('[snapshot...]', 'snapshot ids to remove (in addition to the policy)');
  for (const r of ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly']) {
    cmd.option(
      `--keep-${r} <n>`,
      `keep the newest N ${r === 'last' ? 'snapshots' : r + ' snapshots'} (N, or unlimited)`,
    );
  }
  cmd.option('--keep-within <duration>', 'keep snapshots newer than this before the newest snapshot (e.g. 1y2m3d4h)');
  for (const r of ['hourly', 'daily', 'weekly', 'monthly', 'yearly']) {
    cmd.option(`--keep-within-${r} <duration>`, `keep the newest ${r} snapshot of each period within this duration`);
  }
  cmd
    .option('--keep-tag <tags>', 'keep snapshots with all these tags (comma list; repeat for alternatives)', collect)
    .option('-g, --group-by <fields>', "group by host, paths and/or tags ('' for one group)", DEFAULT_GROUP_BY)
    .option('-n, --dry-run', 'only show what would be removed')
    .option('--prune', 'prune the repository afterwards')
    .option(
      '--unsafe-allow-remove-all',
      'allow a policy to remove every snapshot of a group, and no policy to remove every selected snapshot',
    );
  addFilterFlags(cmd, collect);
  addPruneFlags(cmd).action((ids: string[], flags: ForgetFlags, c: Command) => runForget(Env.from(c), ids, flags));
}

function policyFrom(f: ForgetFlags): RetentionPolicy {
  const p: RetentionPolicy = {};
  const count = (v: string | undefined, flag: string) => {
    if (v === undefined) return undefined;
    try {
      return parseKeepCount(v);
    } catch (err) {
      throw withContext(err, {}, { message: (m) => `${flag}: ${m}`, code: 'INVALID_ARGUMENT' });
    }
  };
  const dur = (v: string | undefined, flag: string) => (v === undefined ? undefined : parseDuration(v, flag));
  p.last = count(f.keepLast, '--keep-last');
  p.hourly = count(f.keepHourly, '--keep-hourly');
  p.daily = count(f.keepDaily, '--keep-daily');
  p.weekly = count(f.keepWeekly, '--keep-weekly');
  p.monthly = count(f.keepMonthly, '--keep-monthly');
  p.yearly = count(f.keepYearly, '--keep-yearly');
  p.within = dur(f.keepWithin, '--keep-within');
  p.withinHourly = dur(f.keepWithinHourly, '--keep-within-hourly');
  p.withinDaily = dur(f.keepWithinDaily, '--keep-within-daily');
  p.withinWeekly = dur(f.keepWithinWeekly, '--keep-within-weekly');
  p.withinMonthly = dur(f.keepWithinMonthly, '--keep-within-monthly');
  p.withinYearly = dur(f.keepWithinYearly, '--keep-within-yearly');
  if (f.keepTag) p.tags = f.keepTag.map((t) => (t === '' ? [''] : t.split(',').map((x) => x.trim())));
  for (const k of Object.keys(p) as (keyof RetentionPolicy)[]) if (p[k] === undefined) delete p[k];
  return p;
}

async function runForget(env: Env, ids: string[], flags: ForgetFlags): Promise<void> {
  const policy = policyFrom(flags);
  const groupBy = parseGroupBy(flags.groupBy ?? DEFAULT_GROUP_BY);
  await withRepository(
    env,
    {},
    async (repo) => {
      const explicit: StoredSnapshot[] = [];
      for (const id of ids) explicit.push(await findSnapshot(repo, id));
      let plan: ForgetPlan = { groups: [], explicit, emptyPolicy: true };
      const hasPolicy = Object.keys(policy).length > 0;
      // A damaged snapshot file cannot be placed in a group (its host, paths, tags and time are unreadable): it is
      // neither kept nor removed, each is warned about as it is skipped, and the summary counts them.
      const damaged: string[] = [];
      if (hasPolicy || ids.length === 0) {
        const filter = snapshotFilter(flags);
        const candidates = (await listSnapshots(repo, { onDamaged: (id) => damaged.push(id) })).filter((s) =>
          matchesFilter(s, filter),
        );
        plan = {
          ...planForget(candidates, policy, groupBy, new Date(), {
            allowRemoveAll: flags.unsafeAllowRemoveAll === true,
          }),
          explicit,
        };
      }
      if (!hasPolicy && ids.length === 0 && !flags.unsafeAllowRemoveAll && !env.out.json) {
        env.out.info('no policy was specified, no snapshots will be removed');
      }
      report(env, plan, policy);
      if (damaged.length > 0) {
        env.out.warn(
          `${damaged.length} damaged snapshot file${damaged.length === 1 ? ' was' : 's were'} neither kept nor removed by the policy (${damaged.map((d) => d.slice(0, 8)).join(', ')}): ${REPAIR_SNAPSHOTS_HINT.replace(' it', ' them')}`,
        );
      }
      if (!flags.dryRun) {
        const removed = await executeForget(repo, plan, (locked) => {
          for (const l of locked)
            env.out.warn(`snapshot ${l.name.slice(0, 8)} is kept: it is under object lock until ${l.until}`);
        });
        if (!env.out.json) env.out.info(`removed ${removed.length} snapshot${removed.length === 1 ? '' : 's'}`);
        if (flags.prune && removed.length > 0) await pruneRepository(env, repo, flags);
      } else if (flags.prune) {
        if (!env.out.json) env.out.info('(dry run: prune skipped)');
      }
    },
    'exclusive',
  );
}

function report(env: Env, plan: ForgetPlan, policy: RetentionPolicy): void {
  if (env.out.json) {
    env.out.printJson(
      plan.groups.map((g) => ({
        message_type: 'forget_group',
        host: g.key.hostname ?? '',
        paths: g.key.paths ?? null,
        // restic writes null for a group without tags, as for a key that does not group by tags.
        tags: g.key.tags !== undefined && g.key.tags.length > 0 ? g.key.tags : null,
        keep: g.keep.map(snapshotJson),
        remove: g.remove.length > 0 ? g.remove.map(snapshotJson) : null,
        reasons: g.reasons.map((r, i) => ({
          snapshot: snapshotJson(g.keep[i]),
          matches: r.matches,
          counters: r.counters ?? {},
        })),
      })),
    );
    return;
  }
  if (plan.explicit.length > 0) env.out.info(`removing ${plan.explicit.length} snapshot(s) given by id`);
  if (plan.emptyPolicy) return;
  env.out.info(`Applying Policy: ${describePolicy(policy)}`);
  for (const g of plan.groups) {
    env.out.info(`snapshots for ${formatGroupKey(g.key) || 'all snapshots'}:`);
    const reasonOf = new Map(g.reasons.map((r) => [r.snapshotId, r.matches.join(', ')]));
    const rows = (list: StoredSnapshot[], reasons: boolean) =>
      list.map((s) => [
        s.id.slice(0, 8),
        formatTimestamp(s.time),
        s.hostname,
        s.tags.join(','),
        ...(reasons ? [reasonOf.get(s.id) ?? ''] : []),
        s.paths.join(' '),
      ]);
    env.out.info(`keep ${g.keep.length} snapshots:`);
    env.out.info(renderTable(['ID', 'Time', 'Host', 'Tags', 'Reasons', 'Paths'], rows(g.keep, true)));
    if (g.remove.length > 0) {
      env.out.info(`remove ${g.remove.length} snapshots:`);
      env.out.info(renderTable(['ID', 'Time', 'Host', 'Tags', 'Paths'], rows(g.remove, false)));
    }
  }
}
