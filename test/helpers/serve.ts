// Starts the built CLI's `repo serve` on a free loopback port and stops it; adds users through `repo serve user add`.
// Only tests import this.

import { type ChildProcess, spawn } from 'node:child_process';
import { CLI, cliEnv, runCli } from './cli.js';

export interface ServeProcess {
  url: string;
  port: number;
  /** Every line the server wrote to stderr so far (its request log). */
  log: string[];
  stop(): Promise<void>;
}

export async function addServeUser(credentials: string, name: string, role: string, password: string): Promise<void> {
  const r = await runCli(['serve', '--credentials', credentials, 'user', 'add', name, '--role', role], {
    input: `${password}\n`,
  });
  if (r.code !== 0) throw new Error(`serve user add ${name} exited ${r.code}: ${r.stderr}`);
}

export function startServe(args: string[]): Promise<ServeProcess> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', ...args], {
      env: cliEnv('unused'),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const log: string[] = [];
    let partial = '';
    let started = false;
    child.stderr!.on('data', (c: Buffer) => {
      partial += c.toString('utf8');
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        log.push(line);
        const m = /^serving .* on (https?:\/\/127\.0\.0\.1:(\d+))\//.exec(line);
        if (m !== null && !started) {
          started = true;
          const stop = () =>
            new Promise<void>((done) => {
              if (child.exitCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGTERM');
            });
          resolve({ url: m[1], port: Number(m[2]), log, stop });
        }
      }
    });
    child.on('exit', (code) => {
      if (!started) reject(new Error(`repo serve exited ${code}: ${log.join('\n')}${partial}`));
    });
  });
}
