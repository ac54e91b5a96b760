// `repo run PROFILE...`: runs the jobs of profiles from repo.yaml once, one after the other, and prints a
// summary; the exit status is the worst outcome (130 interrupted > 1 failure > 3 partial > 0 success).

import type { Command } from 'commander';
import { RepoError } from '../core/errors.js';
import { shortId } from '../core/id.js';
import type { JobResult } from '../ops/profile-runner.js';
import { defaultStateDir } from '../ops/state.js';
import { inWindow } from '../ops/time.js';
import { Env, runtime } from './context.js';
import { formatBytes, formatElapsed, renderTable } from './format.js';

interface RunFlags {
  all?: boolean;
  onlyInWindow?: boolean;
  check?: boolean;
  forceCheck?: boolean;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description(
      'run the jobs of profiles from the config file once: hooks, dumps, backup, retention, copies, check when due',
    )
    .argument('[profiles...]', 'profile names from the config file')
    .option('--all', 'run every profile')
    .option(
      '--only-in-window',
      'skip (successfully) a profile whose backup window is closed now (for system schedulers)',
    )
    .option('--no-check', 'do not run the check, even when it is due')
    .option('--force-check', 'run the check now, even when it is not due')
    .addHelpText(
      'after',
      '\nExit status: the worst outcome of the jobs: 0 success, 3 some source files unreadable, 1 failure, 130 interrupted.\nExample:\n  repo run --config /etc/repo/repo.yaml home postgres',
    )
    .action((names: string[], flags: RunFlags, c: Command) => runRun(Env.from(c), names, flags));
}

const SEVERITY: Record<number, number> = { 0: 0, 3: 1, 1: 2, 130: 3 };

export function worstExit(codes: number[]): number {
  return codes.reduce((w, c) => ((SEVERITY[c] ?? 2) > (SEVERITY[w] ?? 2) ? c : w), 0);
}

async function runRun(env: Env, names: string[], flags: RunFlags): Promise<void> {
  // Loaded here, not at start-up: the YAML and cron parsers it brings cost every other command ~40 ms.
  const { loadConfig, selectProfiles } = await import('../ops/config.js');
  // So is the job runner, which brings the config schema library (zod) and every step's code.
  const { runProfile } = await import('../ops/profile-runner.js');
  const config = loadConfig(env.globals.config);
  if (env.globals.profile !== undefined) names = [...names, env.globals.profile];
  if (names.length === 0 && flags.all !== true) {
    throw new RepoError(
      'INVALID_ARGUMENT',
      `name the profiles to run, or --all; profiles in ${config.file}: ${[...config.profiles.keys()].join(', ')}`,
    );
  }
  const profiles = selectProfiles(config, flags.all ? [] : names);
  const signal = env.signal; // Ctrl-C stops the running job cleanly
  const onTerm = () => runtime.controller.abort(new Error('terminated'));
  process.once('SIGTERM', onTerm); // systemd stops a service with SIGTERM
  const results: JobResult[] = [];
  const skipped: string[] = [];
  try {
    for (const p of profiles) {
      if (signal.aborted) break;
      if (flags.onlyInWindow && !inWindow(p.window, new Date())) {
        env.out.info(`profile ${p.name}: outside its window ${p.window!.text}, skipped`);
        skipped.push(p.name);
        continue;
      }
      const res = await runProfile(p, {
        signal,
        stateDir: defaultStateDir(),
        backendOptions: env.backendOptions(),
        forceCheck: flags.forceCheck === true,
        skipCheck: flags.check === false,
        onLog: env.out.json || env.out.quiet ? undefined : (line) => env.out.print(line),
      });
      results.push(res);
      if (env.out.quiet && res.status !== 'success') process.stderr.write(res.log.slice(-20).join('\n') + '\n');
    }
  } finally {
    process.off('SIGTERM', onTerm);
  }
  runtime.exitCode = worstExit(results.map((r) => r.exitCode));
  if (env.out.json) {
    env.out.printJson({
      message_type: 'run_summary',
      exit_code: runtime.exitCode,
      skipped,
      jobs: results.map((r) => ({
        profile: r.profile,
        status: r.status,
        exit_code: r.exitCode,
        started: r.started.toISOString(),
        seconds: r.seconds,
        snapshots: r.snapshots,
        bytes_added: r.bytesAdded,
        error: r.error ?? null,
        steps: r.steps,
      })),
    });
    return;
  }
  if (results.length === 0) return;
  env.out.info('');
  env.out.info(
    renderTable(
      ['Profile', 'Status', 'Snapshots', 'Added', 'Duration', 'Problems'],
      results.map((r) => [
        r.profile,
        r.status,
        r.snapshots.map((s) => shortId(s)).join(' ') || '-',
        formatBytes(r.bytesAdded),
        formatElapsed(r.seconds),
        r.steps
          .filter((s) => s.status === 'failed' || s.status === 'partial')
          .map((s) => `${s.step}: ${s.message ?? s.status}`)
          .join('\n') || '-',
      ]),
    ),
  );
  if (env.out.quiet) {
    for (const r of results)
      if (r.status !== 'success') env.out.print(`profile ${r.profile}: ${r.status}${r.error ? ` — ${r.error}` : ''}`);
  }
}
