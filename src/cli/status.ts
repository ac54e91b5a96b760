// `repo status [PROFILE...]`: each profile's objectives (RPO, RTO, check freshness) against what its
// repository says; exit 0 when all are met, 2 when any is missed or a repository cannot be read.
// --metrics-file writes Prometheus text-format metrics for node_exporter's textfile collector.

import type { Command } from 'commander';
import { shortId } from '../core/id.js';
import { defaultStateDir } from '../ops/state.js';
import { metricsText, profileStatus, writeMetricsFile, type ProfileStatus } from '../ops/status.js';
import { withProfileEnvironment } from '../ops/profile-env.js';
import { Env, runtime } from './context.js';
import { formatBytes, formatElapsed, formatTimestamp } from './format.js';
import { snakeKeys } from './json-messages.js';

/** Exit status of `repo status` when an objective is missed (or a repository cannot be read). */
export const EXIT_OBJECTIVE_MISSED = 2;
/** Exit status of `repo status` when no objective is missed but one is unknown (an RTO without a measured read rate). */
export const EXIT_OBJECTIVE_UNKNOWN = 4;

interface StatusFlags {
  metricsFile?: string;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show whether each profile meets its recovery objectives (RPO, RTO, check interval)')
    .argument('[profiles...]', 'only these profiles (default: all)')
    .option(
      '--metrics-file <path>',
      'also write Prometheus metrics to this file (e.g. /var/lib/node_exporter/textfile/repo.prom)',
    )
    .addHelpText(
      'after',
      '\nExit status: 0 every objective is met, 2 an objective is missed or a repository cannot be read,\n4 none is missed but one is unknown (RTO: no check has measured a read rate yet), 1 error.',
    )
    .action((names: string[], flags: StatusFlags, c: Command) => runStatus(Env.from(c), names, flags));
}

/** Every selected profile's status (also what `repo ui` and `repo report` show); names [] means all. */
export async function profileStatuses(
  env: Env,
  names: string[],
  detailed: boolean,
  now = new Date(),
): Promise<ProfileStatus[]> {
  // Loaded here, not at start-up: the YAML and cron parsers it brings cost every other command ~40 ms.
  const { loadConfig, selectProfiles } = await import('../ops/config.js');
  const config = loadConfig(env.globals.config);
  if (env.globals.profile !== undefined) names = [...names, env.globals.profile];
  const profiles = selectProfiles(config, names);
  const statuses: ProfileStatus[] = [];
  for (const p of profiles) {
    const opts = { now, stateDir: defaultStateDir(), backendOptions: env.backendOptions(), detailed };
    statuses.push(await withProfileEnvironment(p, () => profileStatus(p, opts))); // its S3 credentials, if any
  }
  return statuses;
}

async function runStatus(env: Env, names: string[], flags: StatusFlags): Promise<void> {
  const now = new Date();
  const statuses = await profileStatuses(env, names, flags.metricsFile !== undefined, now);
  if (flags.metricsFile !== undefined) await writeMetricsFile(flags.metricsFile, metricsText(statuses, now));
  const ok = statuses.every((s) => s.ok);
  const missed = statuses.some((s) => !s.reachable || s.objectives.some((o) => o.state === 'missed'));
  runtime.exitCode = ok ? 0 : missed ? EXIT_OBJECTIVE_MISSED : EXIT_OBJECTIVE_UNKNOWN;
  if (env.out.json) {
    env.out.printJson({ message_type: 'status', ok, profiles: snakeKeys(statuses) });
    return;
  }
  for (const s of statuses) {
    env.out.print(`profile ${s.profile} (${s.repository}): ${s.ok ? 'OK' : 'NOT OK'}`);
    if (!s.reachable) env.out.print(`  error: ${s.error}`);
    const mark = { met: 'met    ', missed: 'MISSED ', unknown: 'UNKNOWN' } as const;
    for (const o of s.objectives)
      env.out.print(`  ${mark[o.state]} ${o.objective.toUpperCase().padEnd(5)} ${o.message}`);
    if (s.objectives.length === 0) env.out.print('  (no objectives configured)');
    if (s.newestSnapshot)
      env.out.info(
        `  newest snapshot ${shortId(s.newestSnapshot.id)} at ${formatTimestamp(s.newestSnapshot.time)} (${formatElapsed(s.newestSnapshot.ageSeconds, 'short')} ago), ${s.snapshots} snapshots`,
      );
    if (s.lastJob) env.out.info(`  last job: ${s.lastJob.result} at ${formatTimestamp(s.lastJob.time)}`);
    if (s.lastCheck) env.out.info(`  last check: ${s.lastCheck.result} at ${formatTimestamp(s.lastCheck.time)}`);
    if (s.wal?.newest !== undefined)
      env.out.info(
        `  WAL archive: ${s.wal.segments} segments, newest ${s.wal.newest} archived ${formatElapsed(s.wal.ageSeconds ?? 0, 'short')} ago (the RPO)${s.wal.gaps.length > 0 ? `, MISSING ${s.wal.gaps.length} from ${s.wal.gaps[0]}` : ', no gaps'}; ${s.wal.replaySegments} segments (${formatBytes(s.wal.replayWalBytes)}) to replay from the newest base backup`,
      );
    else if (s.wal?.error !== undefined) env.out.info(`  WAL archive: not readable: ${s.wal.error}`);
    if (s.restore?.estimatedSeconds !== undefined) {
      env.out.info(
        `  full restore: ${formatBytes(s.restore.storedBytes)} stored at ${formatBytes(s.restore.bytesPerSecond!)}/s ≈ ${formatElapsed(s.restore.estimatedSeconds, 'short')} (${s.restore.includes})`,
      );
    }
  }
}
