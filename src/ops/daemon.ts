// The `repo schedule` loop: asks the Scheduler what is due, starts those jobs, sleeps until the next slot
// (re-checking at least every minute, so clock jumps and suspends are noticed), persists the schedule
// state so a restart catches up a missed run, and on stop aborts running jobs cleanly and waits for them.

import { errorMessage } from '../core/errors.js';
import path from 'node:path';
import type { ProfileConfig } from './config.js';
import { repositoryKey } from './config.js';
import { hasProfileEnvironment } from './profile-env.js';
import type { JobResult } from './profile-runner.js';
import { Scheduler, type ScheduleSpec, type ScheduleState } from './schedule.js';
import { readJsonFile, writeJsonFile } from './state.js';

export interface DaemonOptions {
  profiles: ProfileConfig[];
  /** Where schedule.json lives; null: keep nothing (no catch-up after a restart). */
  stateDir: string | null;
  runJob: (p: ProfileConfig, signal: AbortSignal, info: { slot: Date; catchUp: boolean }) => Promise<JobResult>;
  /** Aborting it stops the daemon: running jobs are aborted cleanly and awaited. */
  signal: AbortSignal;
  log: (line: string) => void;
  clock?: () => Date;
  /** Longest sleep between looks at the clock (default 60 s). */
  maxSleepMs?: number;
}

/** A pseudo repository every job shares when a profile sets variables: jobs share process.env, so none overlap. */
const PROCESS_ENV_KEY = '\0process.env';

export function scheduleSpecs(profiles: ProfileConfig[]): ScheduleSpec[] {
  const serialize = profiles.some((p) => p.schedule !== undefined && hasProfileEnvironment(p));
  return profiles
    .filter((p) => p.schedule !== undefined)
    .map((p) => ({
      name: p.name,
      cron: p.schedule!,
      window: p.window,
      repositories: [
        ...[p.repository, ...p.copyTo.map((t) => t.repository)].map(repositoryKey),
        ...(serialize ? [PROCESS_ENV_KEY] : []),
      ],
    }));
}

export function scheduleStatePath(stateDir: string): string {
  return path.join(stateDir, 'schedule.json');
}

/** Runs until `signal` is aborted; resolves once every job has ended. */
export async function runDaemon(opts: DaemonOptions): Promise<void> {
  const clock = opts.clock ?? (() => new Date());
  const specs = scheduleSpecs(opts.profiles);
  const byName = new Map(opts.profiles.map((p) => [p.name, p]));
  const statePath = opts.stateDir === null ? undefined : scheduleStatePath(opts.stateDir);
  const saved = (statePath !== undefined ? await readJsonFile<ScheduleState>(statePath) : undefined) ?? {};
  const sched = new Scheduler(specs, clock, saved);
  const persist = async () => {
    if (statePath !== undefined)
      await writeJsonFile(statePath, sched.snapshot()).catch((err) =>
        opts.log(`warning: cannot save ${statePath}: ${errorMessage(err)}`),
      );
  };
  await persist();
  const jobs = new Map<string, Promise<void>>();
  const jobStop = new AbortController();
  let wake: (() => void) | undefined;
  const wakeUp = () => wake?.();
  const onStop = () => {
    opts.log(jobs.size > 0 ? `stopping: aborting ${[...jobs.keys()].join(', ')}` : 'stopping');
    jobStop.abort(new Error('daemon stopping'));
    wakeUp();
  };
  if (opts.signal.aborted) onStop();
  else opts.signal.addEventListener('abort', onStop, { once: true });
  if (specs.length === 0) opts.log('no profile has a schedule');
  for (const s of specs) opts.log(`profile ${s.name}: "${s.cron}"${s.window ? ` within ${s.window.text}` : ''}`);
  const reported = new Set<string>();

  try {
    while (!opts.signal.aborted) {
      const { start, waiting } = sched.due();
      for (const w of waiting) {
        const key = `${w.name}@${w.slot.toISOString()}:${w.reason}`;
        if (reported.has(key)) continue;
        reported.add(key);
        if (w.reason === 'window')
          opts.log(
            `profile ${w.name}: due since ${w.slot.toISOString()}, waiting for its window (opens ${w.until?.toISOString()})`,
          );
        else if (w.reason === 'repository-busy')
          opts.log(`profile ${w.name}: due, waiting for another job on its repository`);
        else opts.log(`profile ${w.name}: due again while still running; it runs once more afterwards`);
      }
      for (const r of start) {
        const p = byName.get(r.name)!;
        opts.log(
          `profile ${r.name}: starting${r.catchUp ? ` (catching up the run due at ${r.slot.toISOString()})` : ''}`,
        );
        const job = opts
          .runJob(p, jobStop.signal, { slot: r.slot, catchUp: r.catchUp })
          .then(
            (res) => {
              opts.log(
                `profile ${r.name}: ${res.status} in ${res.seconds.toFixed(1)} s${res.error ? ` (${res.error})` : ''}`,
              );
              sched.finish(r.name, res.status);
            },
            (err) => {
              opts.log(`profile ${r.name}: failed: ${errorMessage(err)}`);
              sched.finish(r.name, 'failure');
            },
          )
          .finally(async () => {
            jobs.delete(r.name);
            await persist();
            wakeUp();
          });
        jobs.set(r.name, job);
      }
      if (start.length > 0) await persist();
      const until = sched.nextWakeup().getTime() - clock().getTime();
      const ms = Math.max(50, Math.min(until, opts.maxSleepMs ?? 60_000));
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = undefined;
    }
  } finally {
    opts.signal.removeEventListener('abort', onStop);
    jobStop.abort(new Error('daemon stopping'));
    await Promise.allSettled([...jobs.values()]);
    await persist();
  }
}
