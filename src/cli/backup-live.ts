// What a backup shows while it runs: on a terminal a status block (percentage, ETA, rate, errors and the
// files being read, restic-style), with --json restic's status lines on a timer, with -v the new,
// modified and removed entries, and each source error as it happens.

import type { BackupItem, BackupProgress, SourceWarning } from '../archiver/index.js';
import type { Output } from './context.js';
import { formatBytes, formatElapsed } from './format.js';
import { backupItemJson, backupItemText, backupStatusJson, errorJson, statusTicker } from './json-messages.js';
import { describePhase, etaSeconds, formatRate, percent, StatusBlock } from './progress.js';

/** Files in progress shown under the status line. */
const CURRENT_FILES_SHOWN = 4;

export class BackupLive {
  /** What the backup does before the first file (the status block shows it from the first second). */
  phase = 'opening the repository';
  private last?: BackupProgress;
  private readonly block: StatusBlock;
  private ticker?: { stop(): void };

  constructor(private readonly out: Output) {
    this.block = new StatusBlock(out.progress, (secs) => this.lines(secs));
  }

  /** Whether progress reports are wanted at all (they cost a scan of the sources). */
  get watching(): boolean {
    return this.out.progress || this.out.json;
  }

  start(): void {
    this.block.start();
    if (this.out.json) this.ticker = statusTicker(() => this.emitStatus());
  }

  progress(p: BackupProgress): void {
    this.last = p;
    if (p.done && this.out.json) this.emitStatus(); // the last status line says 100 %
  }

  warning(w: SourceWarning): void {
    if (this.out.json) process.stderr.write(errorJson(w.message, 'archival', w.path) + '\n');
    else this.block.above(() => this.out.warn(`${w.path}: ${w.message}`));
  }

  item(i: BackupItem): void {
    if (this.out.json) this.out.printJson(backupItemJson(i));
    else if (!this.out.quiet) this.block.above(() => this.out.print(backupItemText(i)));
  }

  /** Prints a line above the status block. */
  above(write: () => void): void {
    this.block.above(write);
  }

  stop(): void {
    this.ticker?.stop();
    this.block.clear();
  }

  private emitStatus(): void {
    if (this.last !== undefined) this.out.printJson(backupStatusJson(this.last));
  }

  private lines(secs: number): string[] {
    const p = this.last;
    if (p === undefined) return [describePhase(secs, this.phase)];
    const totalFiles = Math.max(p.filesTotal, p.filesDone);
    const totalBytes = Math.max(p.bytesTotal, p.bytesDone);
    const errors = `${p.errors} error${p.errors === 1 ? '' : 's'}`;
    let head = `[${formatElapsed(secs)}]`;
    if (p.scanDone) head += ` ${percent(p.bytesDone, totalBytes)} `;
    head += ` ${p.filesDone} files ${formatBytes(p.bytesDone)}`;
    head += p.scanDone
      ? `, total ${totalFiles} files ${formatBytes(totalBytes)}`
      : `, found so far ${totalFiles} files ${formatBytes(totalBytes)}`;
    head += `, ${errors}  ${formatRate(p.bytesDone, secs)}`;
    const eta = p.scanDone ? etaSeconds(secs, p.bytesDone, totalBytes) : undefined;
    if (eta !== undefined) head += `  ETA ${formatElapsed(eta)}`;
    const current = p.currentFiles.slice(0, CURRENT_FILES_SHOWN);
    if (p.currentFiles.length > current.length) current.push(`… and ${p.currentFiles.length - current.length} more`);
    return [head, ...current];
  }
}
