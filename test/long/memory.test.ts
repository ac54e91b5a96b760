// Many small files and one multi-GiB file stream through backup and restore with bounded memory: peak RSS
// of the `repo` subprocess (run as installed, with its #! options) is measured from /proc (VmHWM) and must
// stay under 300 MiB whatever the sizes.
import { spawn } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, cliEnv } from '../helpers/cli.js';
import { tempDir } from '../helpers/repo.js';

const SIZE = 2560 * 1024 * 1024; // 2.5 GiB: well beyond any buffer the pipeline holds
const SMALL_FILES = 20_000; // in 200 folders, 1-16 KiB each: the per-file path through the seal workers
const tmp = tempDir('repo-memory-');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs the CLI and samples its peak resident set size (VmHWM) until it exits. */
function runMeasured(args: string[]): Promise<{ code: number | null; peakMiB: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLI, args, { env: cliEnv('pw'), stdio: ['ignore', 'ignore', 'pipe'] });
    let peak = 0;
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const sample = () => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      } catch {
        // the process has just exited
      }
    };
    const timer = setInterval(sample, 50);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(timer);
      resolve({ code, peakMiB: peak, stderr });
    });
  });
}

describe('bounded memory', () => {
  it('backs up and restores 20,000 small files and a 2.5 GiB file with peak RSS under 300 MiB', async () => {
    const src = path.join(tmp, 'src');
    fs.mkdirSync(src);
    for (let i = 0; i < SMALL_FILES; i++) {
      const dir = path.join(src, `d${i % 200}`);
      if (i < 200) fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, `f${i}`), Buffer.alloc(1024 + ((i * 7919) % 15360), i % 251));
    }
    const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16));
    const fd = fs.openSync(path.join(src, 'big.bin'), 'w');
    const block = Buffer.alloc(64 << 20);
    for (let done = 0; done < SIZE; done += block.length) fs.writeSync(fd, cipher.update(block));
    fs.closeSync(fd);
    const repo = path.join(tmp, 'repo');
    expect((await runMeasured(['-r', repo, 'init'])).code).toBe(0);
    const backup = await runMeasured(['-r', repo, 'backup', src]);
    expect(backup.code, backup.stderr).toBe(0);
    console.log(
      `backup of ${SMALL_FILES} small files and ${SIZE / 2 ** 20} MiB: peak RSS ${backup.peakMiB.toFixed(0)} MiB`,
    );
    expect(backup.peakMiB).toBeLessThan(300);
    fs.rmSync(src, { recursive: true });
    const restore = await runMeasured(['-r', repo, 'restore', `latest:${tmp}`, '--target', path.join(tmp, 'out')]);
    expect(restore.code, restore.stderr).toBe(0);
    console.log(`restore: peak RSS ${restore.peakMiB.toFixed(0)} MiB`);
    expect(restore.peakMiB).toBeLessThan(300);
    expect(fs.statSync(path.join(tmp, 'out/src/big.bin')).size).toBe(SIZE);
    expect(fs.readdirSync(path.join(tmp, 'out/src/d7')).length).toBe(SMALL_FILES / 200);
  }, 480_000);
});
