// `repo schedule`: a foreground daemon running every scheduled profile of repo.yaml on its cron schedule
// (one job per repository at a time, one catch-up run after downtime, backup windows), stopping cleanly on
// SIGTERM or Ctrl-C: running jobs are aborted (packs already written are indexed) and awaited.
// `--print-systemd` / `--print-cron` print units for the system scheduler instead.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { RepoError } from '../core/errors.js';
import { defaultStateDir } from '../ops/state.js';
import type { UnitOptions } from '../ops/units.js';
import { Env, runtime } from './context.js';

interface ScheduleFlags {
  printSystemd?: boolean;
  printCron?: boolean;
}

export function registerSchedule(program: Command): void {
  program
    .command('schedule')
    .description(
      'run the profiles of the config file on their schedules (a foreground daemon; stops cleanly on SIGTERM)',
    )
    .argument('[profiles...]', 'only these profiles (default: every profile with a schedule)')
    .option('--print-systemd', 'print a systemd service and timer per profile instead of running')
    .option('--print-cron', 'print crontab lines instead of running')
    .addHelpText(
      'after',
      '\nThe daemon never runs two jobs on one repository at once, runs a job missed while it was down once\n' +
        '(its state is in $REPO_STATE_DIR, $XDG_STATE_HOME/repo or ~/.local/state/repo), and starts a job only\n' +
        'inside its window. Log lines go to standard output.',
    )
    .action((names: string[], flags: ScheduleFlags, c: Command) => runSchedule(Env.from(c), names, flags));
}

async function runSchedule(env: Env, names: string[], flags: ScheduleFlags): Promise<void> {
  // Loaded here, not at start-up: the YAML and cron parsers it brings cost every other command ~40 ms.
  const { loadConfig, selectProfiles } = await import('../ops/config.js');
  const config = loadConfig(env.globals.config);
  if (env.globals.profile !== undefined) names = [...names, env.globals.profile];
  const profiles = selectProfiles(config, names);
  if (flags.printSystemd || flags.printCron) {
    const unitOpts: UnitOptions = {
      node: process.execPath,
      cli: runtime.cliScript || path.resolve(fileURLToPath(new URL('./main.js', import.meta.url))),
      configFile: path.resolve(config.file),
    };
    if (process.env.REPO_STATE_DIR) unitOpts.env = { REPO_STATE_DIR: process.env.REPO_STATE_DIR };
    const { crontabLines, systemdUnits } = await import('../ops/units.js');
    process.stdout.write(flags.printSystemd ? systemdUnits(profiles, unitOpts) : crontabLines(profiles, unitOpts));
    return;
  }
  if (!profiles.some((p) => p.schedule !== undefined)) {
    throw new RepoError(
      'INVALID_ARGUMENT',
      `no profile${names.length > 0 ? ' named' : ' in ' + config.file} has a schedule: add e.g. schedule: "0 * * * *"`,
    );
  }
  const stop = env.signal; // the first Ctrl-C aborts it (main.ts); SIGTERM too:
  const onTerm = () => runtime.controller.abort(new Error('terminated'));
  process.on('SIGTERM', onTerm);
  const log = (line: string) => env.out.print(`${new Date().toISOString()} ${line}`);
  const stateDir = defaultStateDir();
  try {
    log(`repo schedule: ${profiles.filter((p) => p.schedule).length} scheduled profiles from ${config.file}`);
    const { runDaemon } = await import('../ops/daemon.js');
    const { runProfile } = await import('../ops/profile-runner.js'); // not at start-up: it brings zod
    await runDaemon({
      profiles,
      stateDir,
      signal: stop,
      log,
      runJob: (p, signal) =>
        runProfile(p, {
          signal,
          stateDir,
          backendOptions: env.backendOptions(),
          onLog: env.out.quiet ? undefined : (line) => env.out.print(line),
        }),
    });
    log('repo schedule: stopped');
  } finally {
    process.off('SIGTERM', onTerm);
  }
  runtime.exitCode = 0; // a requested stop is a clean end
}
