// Backup progress: counts what is done and, from a scan that runs ahead on a worker thread (scan.ts), what
// there is to do, so that a percentage and an ETA can be given. Reports through a callback at most every
// 100 ms and once at the end; it never prints.

import { startScan, type ScanOptions, type Scanner } from './scan.js';

export interface BackupProgress {
  filesDone: number;
  dirsDone: number;
  bytesDone: number;
  /** Totals found so far by the scan; final once scanDone is true. */
  filesTotal: number;
  bytesTotal: number;
  scanDone: boolean;
  /** Source files and directories that could not be read so far. */
  errors: number;
  /** Files being read right now (absolute paths), oldest first. */
  currentFiles: string[];
  elapsedMs: number;
  done: boolean;
}

const INTERVAL_MS = 100;

export class ProgressTracker {
  private readonly p: BackupProgress = {
    filesDone: 0,
    dirsDone: 0,
    bytesDone: 0,
    filesTotal: 0,
    bytesTotal: 0,
    scanDone: false,
    errors: 0,
    currentFiles: [],
    elapsedMs: 0,
    done: false,
  };
  private readonly start = Date.now();
  private readonly current = new Set<string>();
  private scanner?: Scanner;
  private timer?: NodeJS.Timeout;
  private last = 0;

  constructor(private readonly report?: (p: BackupProgress) => void) {}

  /** Whether anyone listens; without a listener the archiver skips the per-file bookkeeping. */
  get watched(): boolean {
    return this.report !== undefined;
  }

  bytesRead(n: number): void {
    this.p.bytesDone += n;
    this.maybeReport();
  }

  fileStarted(abs: string): void {
    if (this.report) this.current.add(abs);
  }

  fileEnded(abs: string): void {
    this.current.delete(abs);
  }

  fileDone(): void {
    this.p.filesDone++;
    this.maybeReport();
  }

  /** A file reused from the parent snapshot: it counts as done without being read. */
  fileSkipped(bytes: number): void {
    this.p.filesDone++;
    this.p.bytesDone += bytes;
    this.maybeReport();
  }

  dirDone(): void {
    this.p.dirsDone++;
  }

  error(): void {
    this.p.errors++;
  }

  /** Ends the scan and the timer without a last report (a failed backup). */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.scanner?.stop();
  }

  finish(): void {
    this.stop();
    this.p.done = true;
    this.p.scanDone = true;
    // At the end the totals are what was done: files that grew or appeared after the scan are counted.
    this.p.filesTotal = Math.max(this.p.filesTotal, this.p.filesDone);
    this.p.bytesTotal = Math.max(this.p.bytesTotal, this.p.bytesDone);
    this.current.clear();
    this.emit();
  }

  /** Counts files and bytes ahead of the backup; only worth it when someone watches. */
  startScan(paths: string[], opts: ScanOptions, signal?: AbortSignal): void {
    if (!this.report) return;
    this.scanner = startScan(paths, opts, signal);
    // Also between files: a large file being read, or the scan alone, moves the figures too.
    this.timer = setInterval(() => this.maybeReport(), INTERVAL_MS);
    this.timer.unref();
    signal?.addEventListener('abort', () => clearInterval(this.timer), { once: true });
  }

  /** The state now, e.g. for a status line printed on a timer between two reports. */
  snapshot(): BackupProgress {
    const t = this.scanner?.totals;
    if (t !== undefined && !this.p.done) {
      this.p.filesTotal = t.files;
      this.p.bytesTotal = t.bytes;
      this.p.scanDone = t.done;
    }
    this.p.currentFiles = [...this.current];
    this.p.elapsedMs = Date.now() - this.start;
    return { ...this.p };
  }

  private maybeReport(): void {
    if (!this.report) return;
    const now = Date.now();
    if (now - this.last >= INTERVAL_MS) {
      this.last = now;
      this.emit();
    }
  }

  private emit(): void {
    this.report?.(this.snapshot());
  }
}
