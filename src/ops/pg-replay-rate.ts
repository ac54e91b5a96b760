// The WAL replay rate of a real recovery, for the RTO estimate of `repo status`. PostgreSQL asks
// restore_command (`repo wal fetch`) for one segment after another, each once it has replayed the previous
// one, so the time between consecutive fetches is one segment's replay plus the next one's fetch: the cost
// of recovery per segment, end to end. Each fetch of a segment notes its time in the state directory of the
// user running it (the server's user); a run of at least two fetches into the same pg_wal directory, each
// within IDLE_MS of the previous, gives the measured rate. Never holds secrets; losing it loses the figure.

import path from 'node:path';
import { readJsonFile, writeJsonFile } from './state.js';

/** PostgreSQL's default segment size: what one fetched segment replays. */
export const SEGMENT_BYTES = 16 * 1024 * 1024;
/** A longer pause between fetches starts a new recovery (the server stopped, or waits for new WAL). */
const IDLE_MS = 10 * 60 * 1000;

export interface ReplayRate {
  bytesPerSecond: number;
  segments: number;
  seconds: number;
  /** When the last fetch of the measured run happened. */
  time: string;
}

interface ReplayState {
  run?: { dir: string; firstMs: number; lastMs: number; segments: number };
  measured?: ReplayRate;
}

function stateFile(stateDir: string, profile: string): string {
  return path.join(stateDir, 'wal-replay', `${profile.replace(/[^\w.-]/g, '_')}.json`);
}

/** Notes that segment `name` was fetched into `dest` at `now`; updates the measured rate when a run has 2+. */
export async function noteFetch(stateDir: string, profile: string, name: string, dest: string, now = Date.now()) {
  if (!/^[0-9A-F]{24}$/.test(name)) return; // history files are not replayed
  const file = stateFile(stateDir, profile);
  const st = (await readJsonFile<ReplayState>(file)) ?? {};
  const dir = path.resolve(path.dirname(dest));
  const run = st.run;
  if (run !== undefined && run.dir === dir && now - run.lastMs < IDLE_MS && now >= run.lastMs) {
    run.lastMs = now;
    run.segments++;
    const seconds = (run.lastMs - run.firstMs) / 1000;
    if (seconds > 0)
      st.measured = {
        bytesPerSecond: ((run.segments - 1) * SEGMENT_BYTES) / seconds,
        segments: run.segments - 1,
        seconds,
        time: new Date(now).toISOString(),
      };
  } else {
    st.run = { dir, firstMs: now, lastMs: now, segments: 1 };
  }
  await writeJsonFile(file, st);
}

/** The newest measured replay rate of `profile`, if a recovery was ever measured on this machine. */
export async function replayRate(stateDir: string, profile: string): Promise<ReplayRate | undefined> {
  const st = await readJsonFile<ReplayState>(stateFile(stateDir, profile));
  const m = st?.measured;
  return m !== undefined && typeof m.bytesPerSecond === 'number' && m.bytesPerSecond > 0 ? m : undefined;
}
