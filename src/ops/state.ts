// Local, per-machine state of the operations layer: the scheduler's last runs and the audit entries this
// machine has seen. Lives in $REPO_STATE_DIR, else $XDG_STATE_HOME/repo, else ~/.local/state/repo.
// Never holds secrets; losing it costs a catch-up run and re-reading the audit log, nothing else.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../core/atomic-file.js';

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REPO_STATE_DIR !== undefined && env.REPO_STATE_DIR !== '') return path.resolve(env.REPO_STATE_DIR);
  const base =
    env.XDG_STATE_HOME !== undefined && env.XDG_STATE_HOME !== ''
      ? env.XDG_STATE_HOME
      : path.join(env.HOME ?? os.homedir(), '.local', 'state');
  return path.join(base, 'repo');
}

/** The parsed JSON file, or undefined when it is missing or unreadable. */
export async function readJsonFile<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Writes JSON crash-safely (core/atomic-file.ts), so readers see the old or the new content (mode 0600). */
export async function writeJsonFile(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(value, null, 1) + '\n', { makeDir: true });
}
