// The JSON lines `--json` prints while a command runs, in restic's shapes (restic's ui/backup/json.go and
// ui/restore/json.go): status lines on a timer, verbose_status items, error lines on stderr and the
// fatal exit_error line. Every object carries message_type; every key is snake_case.

import type { BackupItem, BackupProgress } from '../archiver/index.js';
import type { RestoreProgress } from '../restorer/index.js';
import { etaSeconds } from './progress.js';

/** Status lines per second: $REPO_PROGRESS_FPS or $RESTIC_PROGRESS_FPS (as restic), default 1, at most 60. */
export function statusIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  for (const name of ['REPO_PROGRESS_FPS', 'RESTIC_PROGRESS_FPS']) {
    const fps = Number(env[name]);
    if (env[name] !== undefined && env[name] !== '' && Number.isFinite(fps) && fps > 0)
      return Math.round(1000 / Math.min(60, fps));
  }
  return 1000;
}

/** done/total as a fraction in [0, 1], by bytes when there are any (restic's percent_done). */
function fraction(filesDone: number, filesTotal: number, bytesDone: number, bytesTotal: number): number {
  if (bytesTotal > 0) return Math.min(1, bytesDone / bytesTotal);
  if (filesTotal > 0) return Math.min(1, filesDone / filesTotal);
  return 0;
}

/**
 * restic's backup status line. Totals are the scan's so far; percent_done and seconds_remaining count once
 * the scan is done (before, no honest estimate exists). Totals never fall below what is done.
 */
export function backupStatusJson(p: BackupProgress): Record<string, unknown> {
  const secs = p.elapsedMs / 1000;
  const totalFiles = Math.max(p.filesTotal, p.filesDone);
  const totalBytes = Math.max(p.bytesTotal, p.bytesDone);
  const m: Record<string, unknown> = { message_type: 'status', seconds_elapsed: Math.floor(secs) };
  const eta = p.scanDone ? (p.done ? 0 : etaSeconds(secs, p.bytesDone, totalBytes)) : undefined;
  if (eta !== undefined) m.seconds_remaining = eta;
  Object.assign(m, {
    // No share of an unknown whole: 0 until the scan has counted everything.
    percent_done: p.done ? 1 : p.scanDone ? fraction(p.filesDone, totalFiles, p.bytesDone, totalBytes) : 0,
    total_files: totalFiles,
    files_done: p.filesDone,
    total_bytes: totalBytes,
    bytes_done: p.bytesDone,
    error_count: p.errors,
    current_files: p.currentFiles,
  });
  return m;
}

/** restic's verbose_status line for one entry of a backup (-v with --json). */
export function backupItemJson(i: BackupItem): Record<string, unknown> {
  return {
    message_type: 'verbose_status',
    action: i.action,
    item: i.path,
    duration: i.seconds ?? 0,
    data_size: i.size ?? 0,
  };
}

/** restic's -vv text line: "new       /path", "modified  /path", "removed   /path". */
export function backupItemText(i: BackupItem): string {
  return `${i.action.padEnd(10)}${i.path}`;
}

/** restic 0.17's restore status line. */
export function restoreStatusJson(p: RestoreProgress, seconds: number): Record<string, unknown> {
  return {
    message_type: 'status',
    seconds_elapsed: Math.floor(seconds),
    percent_done: fraction(p.filesDone, p.filesTotal, p.bytesDone, p.bytesTotal),
    total_files: p.filesTotal,
    files_restored: p.filesDone,
    total_bytes: p.bytesTotal,
    bytes_restored: p.bytesDone,
  };
}

/** restic's error line for a file or directory a command could not handle (stderr). */
export function errorJson(message: string, during: string, item: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ message_type: 'error', error: { message }, during, item, ...extra });
}

/** restic 0.17's last line of a failed command under --json (stderr). */
export function exitErrorJson(code: number, message: string): string {
  return JSON.stringify({ message_type: 'exit_error', code, message });
}

/** Calls `emit` every statusIntervalMs() until stopped; never keeps the process alive. */
export function statusTicker(emit: () => void): { stop(): void } {
  const timer = setInterval(emit, statusIntervalMs());
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/**
 * A library result with camelCase field names as --json prints it: every key of every plain object in
 * snake_case (`indexFiles` → `index_files`). Only for results whose keys are field names, not data.
 */
export function snakeKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(snakeKeys);
  if (v === null || typeof v !== 'object' || Object.getPrototypeOf(v) !== Object.prototype) return v;
  return Object.fromEntries(
    Object.entries(v as Record<string, unknown>).map(([k, x]) => [
      k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase()),
      snakeKeys(x),
    ]),
  );
}
