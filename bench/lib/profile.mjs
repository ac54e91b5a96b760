// Summaries of V8 .cpuprofile files (from node --cpu-prof): self time per function.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Top `n` functions by self time over all .cpuprofile files in `dir` (main thread and workers), as
 * a share of the non-idle samples.
 */
export function summarizeProfiles(dir, projectRoot, n = 8) {
  if (!existsSync(dir)) return null;
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (!files.length) return null;
  const self = new Map();
  let total = 0;
  const threads = [];
  for (const f of files) {
    let tBusy = 0;
    let tIdle = 0;
    let prof;
    try {
      prof = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    } catch {
      continue;
    }
    const byId = new Map(prof.nodes.map((nd) => [nd.id, nd]));
    const { samples = [], timeDeltas = [] } = prof;
    for (let i = 0; i < samples.length; i++) {
      const nd = byId.get(samples[i]);
      const dt = (timeDeltas[i] ?? 0) / 1000; // µs -> ms
      if (!nd || dt <= 0) continue;
      const cf = nd.callFrame;
      const url = (cf.url || '').replace(`file://${projectRoot}/`, '').replace(/^file:\/\//, '');
      const key = cf.url
        ? `${cf.functionName || '(anonymous)'} ${url}:${cf.lineNumber + 1}`
        : cf.functionName || '(unknown)';
      self.set(key, (self.get(key) ?? 0) + dt);
      total += dt;
      if (key === '(idle)') tIdle += dt;
      else tBusy += dt;
    }
    // node names them CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is the main thread
    const tid = /\.(\d+)\.\d+\.cpuprofile$/.exec(f)?.[1];
    threads.push({
      thread: tid === '0' ? 'main' : `worker ${tid ?? '?'}`,
      busyMs: Math.round(tBusy),
      idleMs: Math.round(tIdle),
    });
  }
  // "(idle)" = the JS thread waiting (I/O, thread-pool work such as scrypt, worker threads); shown apart
  const idle = self.get('(idle)') ?? 0;
  self.delete('(idle)');
  const busy = total - idle;
  const top = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([fn, ms]) => ({ fn, ms: Math.round(ms), pct: busy ? Math.round((ms / busy) * 1000) / 10 : 0 }));
  return {
    dir,
    files: files.length,
    totalMs: Math.round(total),
    idleMs: Math.round(idle),
    busyMs: Math.round(busy),
    threads,
    top,
  };
}
