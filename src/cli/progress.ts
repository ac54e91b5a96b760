// A single status line on stderr, rewritten in place while a backup or restore runs (only on a terminal).
// Rendering only: the library's onProgress callbacks decide how often it is updated.

import { formatBytes, formatDuration } from './format.js';

export class ProgressLine {
  private shown = false;

  constructor(private readonly enabled: boolean) {}

  update(text: string): void {
    if (!this.enabled) return;
    const width = process.stderr.columns || 80;
    const line = text.length >= width ? text.slice(0, Math.max(0, width - 1)) : text;
    process.stderr.write(`\r\x1b[2K${line}`);
    this.shown = true;
  }

  /** Removes the line so that the next output starts on a clean line. */
  clear(): void {
    if (this.shown) process.stderr.write('\r\x1b[2K');
    this.shown = false;
  }
}

export interface Counts {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  elapsedMs: number;
  /** Whether the totals are final (a backup scans its sources while it reads them). */
  totalsFinal: boolean;
}

/** "[0:12] 120 / 456 files  1.200 GiB / 3.000 GiB  98.4 MiB/s  ETA 0:19". */
export function describeProgress(c: Counts): string {
  const secs = c.elapsedMs / 1000;
  const rate = secs > 0 ? c.bytesDone / secs : 0;
  const totalMark = c.totalsFinal ? '' : '+';
  let s = `[${formatDuration(secs)}] ${c.filesDone} / ${c.filesTotal}${totalMark} files  ${formatBytes(c.bytesDone)} / ${formatBytes(c.bytesTotal)}${totalMark}`;
  s += `  ${(rate / (1024 * 1024)).toFixed(1)} MiB/s`;
  if (c.totalsFinal && rate > 0 && c.bytesTotal > c.bytesDone) s += `  ETA ${formatDuration((c.bytesTotal - c.bytesDone) / rate)}`;
  return s;
}
