// Live progress on a real pseudo-terminal (util-linux `script` runs the CLI on one): backup, restore and
// check --read-data say what they do from the first moment, percentages stay within 0-100 % and what is
// done never exceeds the total; with --quiet, or when the output is not a terminal, nothing is drawn.

import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cliEnv, runCli } from '../helpers/cli.js';

const PASSWORD = 'progress on a terminal';
const haveScript = fs.existsSync('/usr/bin/script');
let work: string;
let repo: string;
let src: string;

/** Runs the CLI on a pseudo-terminal; resolves with everything the terminal received and the exit status. */
function onTerminal(args: string[]): Promise<{ code: number; screen: string }> {
  const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, CLI, '-r', repo, ...args].map(quote).join(' ');
  return new Promise((resolve) => {
    execFile(
      '/usr/bin/script',
      ['-qfec', command, '/dev/null'],
      { env: { ...cliEnv(PASSWORD), COLUMNS: '160', LINES: '40' }, cwd: work, maxBuffer: 64 << 20 },
      (err, stdout) =>
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, screen: stdout }),
    );
  });
}

/** The texts drawn, one per redraw or line: split at carriage returns, newlines and cursor/erase sequences. */
const drawn = (screen: string) =>
  screen
    .split(/\r|\n|\x1b\[\d*[ABJK]/)
    .map((s) => s.trim())
    .filter((s) => s !== '');

const UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
const bytes = (n: string, unit: string) => Number(n) * UNITS[unit];

function percents(lines: string[]): number[] {
  return lines.flatMap((l) => [...l.matchAll(/(\d+\.\d\d)%/g)].map((m) => Number(m[1])));
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-progress-tty-'));
  repo = path.join(work, 'repo');
  src = path.join(work, 'src');
  fs.mkdirSync(path.join(src, 'many'), { recursive: true });
  // Enough to take a few redraws to read on any machine this runs on.
  for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(src, `big-${i}.bin`), crypto.randomBytes(12 << 20));
  for (let i = 0; i < 300; i++) fs.writeFileSync(path.join(src, 'many', `f${i}.txt`), `file ${i}\n`.repeat(i));
  const init = await runCli(['-r', repo, 'init'], { password: PASSWORD });
  expect(init.code, init.stderr).toBe(0);
}, 120_000);

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe.skipIf(!haveScript)('progress on a terminal', () => {
  it('backup: from the first moment, then percentage and totals that done never exceeds', async () => {
    const r = await onTerminal(['backup', src]);
    expect(r.code, r.screen).toBe(0);
    const lines = drawn(r.screen);
    expect(lines[0]).toBe('[0:00] opening the repository…');
    const status = lines.filter((l) => /^\[\d+:\d\d\] /.test(l) && l.includes(' files '));
    expect(status.length).toBeGreaterThan(0);
    for (const p of percents(status)) {
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(100);
    }
    let withTotals = 0;
    for (const l of status) {
      const m =
        /(\d+) files ([\d.]+) (B|KiB|MiB|GiB), (?:total|found so far) (\d+) files ([\d.]+) (B|KiB|MiB|GiB)/.exec(l);
      expect(m, l).not.toBeNull();
      expect(Number(m![1])).toBeLessThanOrEqual(Number(m![4]));
      expect(bytes(m![2], m![3])).toBeLessThanOrEqual(bytes(m![5], m![6]) + 0.0005 * UNITS[m![6]]); // three decimals shown
      if (l.includes(', total ')) withTotals++;
    }
    // The scan runs ahead on its own thread: the totals are final long before 48 MiB are read.
    expect(withTotals).toBeGreaterThan(0);
    expect(percents(status).length).toBeGreaterThan(0);
    expect(r.screen).toMatch(/snapshot [0-9a-f]{8} saved/);
  });

  it('restore: bytes, percentage and files, never done > total', async () => {
    const r = await onTerminal(['restore', 'latest', '--target', path.join(work, 'out')]);
    expect(r.code, r.screen).toBe(0);
    const lines = drawn(r.screen);
    expect(lines[0]).toBe('[0:00] opening the repository…');
    for (const l of lines.filter((x) => x.includes(' restoring '))) {
      const m =
        /restoring {2}([\d.]+)% {2}(\d+) \/ (\d+) files {2}([\d.]+) (B|KiB|MiB|GiB) \/ ([\d.]+) (B|KiB|MiB|GiB)/.exec(
          l,
        );
      expect(m, l).not.toBeNull();
      expect(Number(m![1])).toBeLessThanOrEqual(100);
      expect(Number(m![2])).toBeLessThanOrEqual(Number(m![3]));
      expect(bytes(m![4], m![5])).toBeLessThanOrEqual(bytes(m![6], m![7]) + 0.0005 * UNITS[m![7]]);
    }
    expect(r.screen).toMatch(/restored \d+ files/);
  });

  it('check --read-data: says what it does from the first moment; percentages within 0-100 %', async () => {
    const r = await onTerminal(['check', '--read-data']);
    expect(r.code, r.screen).toBe(0);
    const lines = drawn(r.screen);
    expect(lines[0]).toBe('[0:00] opening the repository…');
    for (const p of percents(lines)) expect(p).toBeLessThanOrEqual(100);
    for (const l of lines.filter((x) => x.includes(' packs '))) {
      const m = /(\d+) \/ (\d+) packs/.exec(l);
      expect(Number(m![1])).toBeLessThanOrEqual(Number(m![2]));
    }
    expect(r.screen).toContain('no errors were found');
  });

  it('draws nothing with --quiet, and nothing when the output is not a terminal', async () => {
    fs.writeFileSync(path.join(src, 'many', 'f0.txt'), 'changed\n');
    const quiet = await onTerminal(['--quiet', 'backup', src]);
    expect(quiet.code).toBe(0);
    expect(quiet.screen).not.toMatch(/\[\d+:\d\d\]|\x1b\[/);
    fs.writeFileSync(path.join(src, 'many', 'f0.txt'), 'changed again\n');
    const piped = await runCli(['-r', repo, 'backup', src], { password: PASSWORD });
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe('');
    expect(piped.out).not.toMatch(/\[\d+:\d\d\]|\x1b\[/);
  });
});
