// Human-readable output helpers: byte sizes, durations, local times, mode strings and plain-text tables.
// Pure formatting; nothing here reads the repository or writes to a stream.

import type { NodeType } from '../tree/node.js';

export { formatBytes, formatElapsed } from '../core/units.js';

const pad2 = (n: number) => String(n).padStart(2, '0');

/** A Date as "YYYY-MM-DD HH:MM:SS" in the machine's local time. */
export function formatLocalTime(d: Date): string {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** An RFC 3339 string (any offset, up to 9 fractional digits) as local "YYYY-MM-DD HH:MM:SS"; unparsable → as is. */
export function formatTimestamp(rfc3339: string): string {
  const d = new Date(rfc3339.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(d.getTime()) ? rfc3339 : formatLocalTime(d);
}

const TYPE_CHAR: Record<NodeType, string> = {
  file: '-',
  dir: 'd',
  symlink: 'l',
  blockdev: 'b',
  chardev: 'c',
  fifo: 'p',
  socket: 's',
};

/** `ls -l` style mode string, e.g. "-rw-r--r--", "drwxr-sr-x", "-rwsr-xr-t". */
export function modeString(type: NodeType, mode: number): string {
  const rwx = (bits: number, special: boolean, specialChar: string) => {
    const x = bits & 1;
    const xc = special ? (x ? specialChar : specialChar.toUpperCase()) : x ? 'x' : '-';
    return (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + xc;
  };
  return (
    TYPE_CHAR[type] +
    rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, 's') +
    rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, 's') +
    rwx(mode & 7, (mode & 0o1000) !== 0, 't')
  );
}

/**
 * Left-aligned columns separated by two spaces, a header, a dashed rule under it and one at the end.
 * A cell may contain newlines; the row then spans several lines (restic shows several paths that way).
 */
export function renderTable(header: string[], rows: string[][], alignRight: number[] = []): string {
  const split = rows.map((r) => r.map((c) => c.split('\n')));
  const widths = header.map((h, i) => Math.max(h.length, ...split.map((r) => Math.max(...r[i].map((l) => l.length)))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        alignRight.includes(i) ? c.padStart(widths[i]) : i === cells.length - 1 ? c : c.padEnd(widths[i]),
      )
      .join('  ')
      .trimEnd();
  const total = widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
  const rule = '-'.repeat(total);
  const out = [line(header), rule];
  for (const r of split) {
    const height = Math.max(...r.map((c) => c.length));
    for (let k = 0; k < height; k++) out.push(line(r.map((c) => c[k] ?? '')));
  }
  out.push(rule);
  return out.join('\n');
}
