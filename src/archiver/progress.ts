// Backup progress: counts what is done and, from a concurrent scan of the sources, what is left (for an ETA).
// Reports through a callback at most every 100 ms; it never prints.

import fs from 'node:fs';
import path from 'node:path';
import { compileRules, type ExcludeRule } from './exclude.js';

export interface BackupProgress {
  filesDone: number;
  dirsDone: number;
  bytesDone: number;
  /** Totals found so far by the scan; final once scanDone is true. */
  filesTotal: number;
  bytesTotal: number;
  scanDone: boolean;
  elapsedMs: number;
  done: boolean;
}

const INTERVAL_MS = 100;

export class ProgressTracker {
  private readonly p: BackupProgress = { filesDone: 0, dirsDone: 0, bytesDone: 0, filesTotal: 0, bytesTotal: 0, scanDone: false, elapsedMs: 0, done: false };
  private readonly start = Date.now();
  private last = 0;

  constructor(private readonly report?: (p: BackupProgress) => void) {}

  bytesRead(n: number): void {
    this.p.bytesDone += n;
    this.maybeReport();
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

  finish(): void {
    this.p.done = true;
    this.p.scanDone = true;
    this.emit();
  }

  /** Counts files and bytes in the background; only worth it when someone watches. */
  startScan(paths: string[], excludes: ExcludeRule[], signal?: AbortSignal): void {
    if (!this.report) return;
    const excluded = compileRules(excludes);
    const walk = async (p: string): Promise<void> => {
      if (signal?.aborted || this.p.done) return;
      let st: fs.Stats;
      try {
        st = await fs.promises.lstat(p);
      } catch {
        return;
      }
      if (st.isDirectory()) {
        let names: string[] = [];
        try {
          names = await fs.promises.readdir(p);
        } catch {
          return;
        }
        for (const n of names) {
          const c = path.join(p, n);
          if (!excluded(c)) await walk(c);
        }
      } else if (st.isFile()) {
        this.p.filesTotal++;
        this.p.bytesTotal += st.size;
      }
    };
    void (async () => {
      for (const p of paths) await walk(p);
      this.p.scanDone = true;
    })();
  }

  private maybeReport(): void {
    const now = Date.now();
    if (this.report && now - this.last >= INTERVAL_MS) {
      this.last = now;
      this.emit();
    }
  }

  private emit(): void {
    this.p.elapsedMs = Date.now() - this.start;
    this.report?.({ ...this.p });
  }
}
