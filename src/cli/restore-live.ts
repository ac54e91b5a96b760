// What a restore shows while it runs: on a terminal a status line from the first second (opening, reading
// the snapshot's trees with what was found so far, then bytes, percentage and ETA of the writing), with
// --json restic 0.17's status lines on a timer, and each damaged or unrestorable file as it happens.

import type { RestoreProgress, RestoreWarning } from '../restorer/index.js';
import type { Output } from './context.js';
import { formatBytes } from './format.js';
import { errorJson, restoreStatusJson, statusTicker } from './json-messages.js';
import { describePhase, describeTransfer, StatusBlock } from './progress.js';

export class RestoreLive {
  phase = 'opening the repository';
  /** The last progress report; the summary takes its totals from it. */
  last?: RestoreProgress;
  private planned?: { files: number; bytes: number };
  private writingSince?: number;
  private readonly block: StatusBlock;
  private ticker?: { stop(): void };
  private readonly started = Date.now();

  constructor(private readonly out: Output) {
    this.block = new StatusBlock(out.progress, (secs) => [this.line(secs)]);
  }

  start(): void {
    this.block.start();
    if (this.out.json) this.ticker = statusTicker(() => this.emitStatus());
  }

  planning(files: number, bytes: number): void {
    this.planned = { files, bytes };
  }

  progress(p: RestoreProgress): void {
    this.writingSince ??= Date.now();
    this.last = p;
  }

  warning(w: RestoreWarning): void {
    if (this.out.json) {
      const d = w.damaged;
      // restic's shape for a restore error, with the blob and pack it failed on.
      const line =
        d !== undefined
          ? errorJson(d.message, 'restore', d.item, { blob: d.blob, pack: d.pack })
          : errorJson(w.message, 'restore', w.path);
      process.stderr.write(line + '\n');
    } else this.block.above(() => this.out.warn(`${w.path}: ${w.message}`));
  }

  stop(): void {
    if (this.ticker !== undefined) {
      this.ticker.stop();
      this.ticker = undefined;
      this.emitStatus(); // the last status line: everything the restore did
    }
    this.block.clear();
  }

  private emitStatus(): void {
    if (this.last !== undefined) this.out.printJson(restoreStatusJson(this.last, (Date.now() - this.started) / 1000));
  }

  private line(secs: number): string {
    const p = this.last;
    if (p === undefined) {
      const found =
        this.planned === undefined ? '' : `: ${this.planned.files} files, ${formatBytes(this.planned.bytes)} found`;
      return describePhase(secs, this.phase + found);
    }
    // Rate and ETA count from the first byte written, not from opening and planning.
    const writing = (Date.now() - (this.writingSince ?? Date.now())) / 1000;
    const counts = {
      done: p.filesDone,
      total: p.filesTotal,
      unit: 'files',
      bytesDone: p.bytesDone,
      bytesTotal: p.bytesTotal,
    };
    return describeTransfer({ label: 'restoring', seconds: secs, workSeconds: writing, ...counts });
  }
}
