// Live progress on a terminal: a status block on stderr, redrawn in place on a timer from the first second
// (so a command that is still opening, planning or waiting says so), and nothing at all when stdout or
// stderr is not a terminal or with --quiet/--json. Rendering only: the commands say what the lines are.

import { formatBytes, formatElapsed } from './format.js';

const REDRAW_MS = 250;
const CURSOR_UP = '\x1b[1A';
const CLEAR_TO_END = '\x1b[J';

export class StatusBlock {
  private shown = 0; // lines on screen
  private timer?: NodeJS.Timeout;
  readonly started = Date.now();

  /** `render` returns the lines to show, given the seconds since the block was made. */
  constructor(
    private readonly enabled: boolean,
    private readonly render: (seconds: number) => string[],
  ) {}

  /** Draws now and then every 250 ms until clear(). */
  start(): this {
    if (!this.enabled || this.timer !== undefined) return this;
    this.redraw();
    this.timer = setInterval(() => this.redraw(), REDRAW_MS);
    this.timer.unref(); // progress never keeps the process alive
    return this;
  }

  redraw(): void {
    if (!this.enabled) return;
    const width = process.stderr.columns || 80;
    const lines = this.render((Date.now() - this.started) / 1000).map((l) =>
      l.length >= width ? l.slice(0, Math.max(0, width - 1)) : l,
    );
    process.stderr.write(this.erase() + lines.join('\n'));
    this.shown = lines.length;
  }

  /** Removes the block (the next output starts on a clean line); the timer keeps going if started. */
  hide(): void {
    if (this.shown > 0) process.stderr.write(this.erase());
    this.shown = 0;
  }

  /** Prints a line above the block, e.g. a warning, without leaving a torn status behind. */
  above(write: () => void): void {
    const wasShown = this.shown > 0;
    this.hide();
    write();
    if (wasShown && this.timer !== undefined) this.redraw();
  }

  /** Stops redrawing and removes the block. */
  clear(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.hide();
  }

  private erase(): string {
    if (this.shown === 0) return '';
    return '\r' + CURSOR_UP.repeat(this.shown - 1) + CLEAR_TO_END;
  }
}

/** done/total as a percentage in [0, 100], two decimals, as restic shows it. */
export function percent(done: number, total: number): string {
  const f = total > 0 ? Math.min(1, done / total) : 0;
  return `${(f * 100).toFixed(2)}%`;
}

/** Remaining seconds, extrapolated from the rate so far; undefined until there is something to go on. */
export function etaSeconds(seconds: number, done: number, total: number): number | undefined {
  if (done <= 0 || total <= done || seconds <= 0) return undefined;
  return Math.round((seconds * (total - done)) / done);
}

export function formatRate(bytes: number, seconds: number): string {
  return `${formatBytes(seconds > 0 ? bytes / seconds : 0)}/s`;
}

export interface TransferCounts {
  /** What is being done, e.g. "restoring", "reading packs". */
  label: string;
  seconds: number;
  done: number;
  total: number;
  /** The unit of done/total, e.g. "files", "packs". */
  unit: string;
  bytesDone?: number;
  bytesTotal?: number;
  /** Seconds the rate and ETA count from, when not `seconds` (e.g. from the first byte written). */
  workSeconds?: number;
}

/** "[0:12] restoring  45.20%  120 / 456 files  1.200 GiB / 3.000 GiB  98.400 MiB/s  ETA 0:19". */
export function describeTransfer(c: TransferCounts): string {
  const byBytes = c.bytesTotal !== undefined && c.bytesTotal > 0 && c.bytesDone !== undefined;
  const [d, t] = byBytes ? [c.bytesDone!, c.bytesTotal!] : [c.done, c.total];
  const total = Math.max(c.total, c.done); // never "done > total"
  let s = `[${formatElapsed(c.seconds)}] ${c.label}  ${percent(d, t)}  ${c.done} / ${total} ${c.unit}`;
  if (c.bytesDone !== undefined) {
    s +=
      c.bytesTotal !== undefined
        ? `  ${formatBytes(c.bytesDone)} / ${formatBytes(Math.max(c.bytesTotal, c.bytesDone))}`
        : `  ${formatBytes(c.bytesDone)}`;
    s += `  ${formatRate(c.bytesDone, c.workSeconds ?? c.seconds)}`;
  }
  const eta = etaSeconds(c.workSeconds ?? c.seconds, d, t);
  if (eta !== undefined) s += `  ETA ${formatElapsed(eta)}`;
  return s;
}

/** "[0:03] opening the repository…": a phase before there is anything to count. */
export function describePhase(seconds: number, phase: string): string {
  return `[${formatElapsed(seconds)}] ${phase}…`;
}
