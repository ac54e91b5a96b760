// `repo unlock`: removes stale lock files (left by crashed or killed processes), or all of them with --remove-all.
// Takes no lock itself; --remove-all is only safe when no other process uses the repository.

import type { Command } from 'commander';
import { removeLocks } from '../repository/lock.js';
import { Env, withRepository } from './context.js';

interface UnlockFlags {
  removeAll?: boolean;
}

export function registerUnlock(program: Command): void {
  program
    .command('unlock')
    .description('remove stale locks')
    .option('--remove-all', 'remove every lock, also fresh ones (only when nothing else uses the repository)')
    .action((flags: UnlockFlags, c: Command) => runUnlock(Env.from(c), flags));
}

async function runUnlock(env: Env, flags: UnlockFlags): Promise<void> {
  const removed = await withRepository(env, {}, (repo) => removeLocks(repo, { all: flags.removeAll === true }), 'none');
  if (env.out.json) env.out.printJson({ message_type: 'unlock', removed });
  else env.out.info(`removed ${removed.length} lock${removed.length === 1 ? '' : 's'}`);
}
