// Pure scheduling logic for `repo schedule`, with an injected clock: which profiles are due, catch-up of a
// run missed while the daemon was down (once, however many slots were missed), backup windows, and never
// two jobs on the same repository at once. Cron expressions are evaluated by cron-parser in local time.
// Nothing here touches a repository, a timer or a file; the daemon (daemon.ts) does that.

import { CronExpressionParser } from 'cron-parser';
import { inWindow, nextWindowStart, type TimeWindow } from './time.js';

export interface ScheduleSpec {
  name: string;
  cron: string;
  window?: TimeWindow;
  /** Keys of every repository the job touches (its own and its copy targets), see repositoryKey(). */
  repositories: string[];
}

/** What the scheduler remembers per profile across restarts (persisted by the daemon). */
export interface ProfileScheduleState {
  /** The newest cron slot that has been run (or deliberately not, on first sight). ISO time. */
  lastSlot?: string;
  lastStart?: string;
  lastFinish?: string;
  lastStatus?: string;
}

export type ScheduleState = Record<string, ProfileScheduleState>;

/** The newest fire time of `cron` at or before `now`, or undefined when there is none (never in practice). */
export function latestSlot(cron: string, now: Date): Date | undefined {
  try {
    const it = CronExpressionParser.parse(cron, { currentDate: new Date(now.getTime() + 1) });
    return it.prev().toDate();
  } catch {
    return undefined;
  }
}

/** The first fire time of `cron` strictly after `after`. */
export function nextSlot(cron: string, after: Date): Date {
  return CronExpressionParser.parse(cron, { currentDate: after }).next().toDate();
}

export interface DueRun {
  name: string;
  /** The slot this run stands for (the newest one missed, when several were). */
  slot: Date;
  /** True when earlier slots were missed too, or the run starts more than a minute after its slot (down, window, blocked). */
  catchUp: boolean;
}

export interface Waiting {
  name: string;
  slot: Date;
  reason: 'window' | 'repository-busy' | 'running';
  /** For 'window': when the window opens. */
  until?: Date;
}

export class Scheduler {
  private readonly specs = new Map<string, ScheduleSpec>();
  private readonly running = new Set<string>();
  private readonly state: ScheduleState;

  /**
   * `state` is what an earlier daemon persisted. A profile without state starts from "now": its first run
   * is its next slot (no run for slots before the scheduler first knew it).
   */
  constructor(
    specs: ScheduleSpec[],
    private readonly clock: () => Date,
    state: ScheduleState = {},
  ) {
    this.state = structuredClone(state);
    const now = clock();
    for (const s of specs) {
      this.specs.set(s.name, s);
      const st = (this.state[s.name] ??= {});
      if (st.lastSlot === undefined || Number.isNaN(Date.parse(st.lastSlot)))
        st.lastSlot = (latestSlot(s.cron, now) ?? now).toISOString();
    }
  }

  /** A copy of the state to persist. */
  snapshot(): ScheduleState {
    return structuredClone(this.state);
  }

  isRunning(name: string): boolean {
    return this.running.has(name);
  }

  get runningJobs(): string[] {
    return [...this.running];
  }

  /** Profiles whose newest slot has not been run yet: the slot, oldest pending first. */
  pending(now = this.clock()): { name: string; slot: Date }[] {
    const out: { name: string; slot: Date }[] = [];
    for (const s of this.specs.values()) {
      const slot = latestSlot(s.cron, now);
      const last = Date.parse(this.state[s.name]?.lastSlot ?? '');
      if (slot !== undefined && (Number.isNaN(last) || slot.getTime() > last)) out.push({ name: s.name, slot });
    }
    return out.sort((a, b) => a.slot.getTime() - b.slot.getTime() || a.name.localeCompare(b.name));
  }

  /**
   * The runs to start now, marked as running: pending profiles that are not running, inside their window,
   * and whose repositories no running job (or run chosen before it in this call) touches. Several missed
   * slots make one run. Also returns why the other pending profiles wait.
   */
  due(): { start: DueRun[]; waiting: Waiting[] } {
    const now = this.clock();
    const start: DueRun[] = [];
    const waiting: Waiting[] = [];
    const busy = new Set<string>();
    for (const name of this.running) for (const r of this.specs.get(name)?.repositories ?? []) busy.add(r);
    for (const p of this.pending(now)) {
      const spec = this.specs.get(p.name)!;
      if (this.running.has(p.name)) {
        waiting.push({ ...p, reason: 'running' });
        continue;
      }
      if (!inWindow(spec.window, now)) {
        waiting.push({ ...p, reason: 'window', until: nextWindowStart(spec.window, now) });
        continue;
      }
      if (spec.repositories.some((r) => busy.has(r))) {
        waiting.push({ ...p, reason: 'repository-busy' });
        continue;
      }
      for (const r of spec.repositories) busy.add(r);
      const st = (this.state[p.name] ??= {});
      const missedEarlier =
        (latestSlot(spec.cron, new Date(p.slot.getTime() - 1))?.getTime() ?? -Infinity) > Date.parse(st.lastSlot ?? '');
      start.push({ name: p.name, slot: p.slot, catchUp: missedEarlier || now.getTime() - p.slot.getTime() > 60_000 });
      this.running.add(p.name);
      st.lastSlot = p.slot.toISOString();
      st.lastStart = now.toISOString();
    }
    return { start, waiting };
  }

  /** Records the end of a run started by due(). */
  finish(name: string, status: string): void {
    this.running.delete(name);
    const st = (this.state[name] ??= {});
    st.lastFinish = this.clock().toISOString();
    st.lastStatus = status;
  }

  /**
   * When due() may next have something to start: the earliest next slot of any profile, or the opening of
   * the window a pending run waits for. (A run waiting for a busy repository is re-examined when a job
   * finishes, which the daemon reports by calling due() again.)
   */
  nextWakeup(): Date {
    const now = this.clock();
    let best = Infinity;
    for (const s of this.specs.values()) best = Math.min(best, nextSlot(s.cron, now).getTime());
    for (const p of this.pending(now)) {
      const spec = this.specs.get(p.name)!;
      if (!this.running.has(p.name) && !inWindow(spec.window, now))
        best = Math.min(best, nextWindowStart(spec.window, now).getTime());
    }
    return new Date(best);
  }
}
