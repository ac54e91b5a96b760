// Starts Debian's real `rclone serve restic` on a loopback port for tests (restic's REST protocol over HTTP).
// Must never listen beyond 127.0.0.1, never kill anything but the child it started, and must remove its temp dir.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Whether the rclone binary is installed (the tests that need it are skipped, loudly, when it is not). */
export const HAVE_RCLONE = spawnSync('rclone', ['version'], { stdio: 'ignore' }).status === 0;

export interface RcloneServer {
  /** e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** The directory the server serves (repositories are sub-directories). */
  readonly dir: string;
  stop(): Promise<void>;
}

const LISTEN_RE = /Serving restic REST API on (https?:\/\/127\.0\.0\.1:\d+)\//;

/**
 * Starts `rclone serve restic DIR --addr 127.0.0.1:0` with `extraArgs` (e.g. --append-only, --user/--pass,
 * --cert/--key) and resolves once it listens.
 */
export async function startRcloneServer(extraArgs: string[] = []): Promise<RcloneServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-rclone-'));
  const child: ChildProcess = spawn('rclone', ['serve', 'restic', dir, '--addr', '127.0.0.1:0', ...extraArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, RCLONE_CONFIG: '/dev/null' },
  });
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`rclone serve restic did not start: ${err}`)), 15_000);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      err += s;
      const m = LISTEN_RE.exec(err);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`rclone serve restic exited (${code}): ${err}`));
    });
  });
  child.stderr?.resume();
  let stopped = false;
  return {
    url,
    dir,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
