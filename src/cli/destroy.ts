// `repo destroy --crypto-erase`: deletes a repository so that nothing in it can be read again, even from a copy of
// its data made earlier without the keys: every key file and the config first (confirmed gone), then the rest.
// Asks for the repository id (or --confirm ID); a rerun after an interruption finishes the job.

import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { openBackendWithoutConfig, type Backend } from '../backend/index.js';
import { RepoError } from '../core/errors.js';
import { shortId } from '../core/id.js';
import { eraseKeyMaterial, eraseRest, hasKeyMaterial } from '../maintenance/crypto-erase.js';
import { Lock } from '../repository/lock.js';
import { Repository } from '../repository/repository.js';
import { Env, runtime } from './context.js';

interface DestroyFlags {
  cryptoErase?: boolean;
  confirm?: string;
}

export function registerDestroy(program: Command): void {
  program
    .command('destroy')
    .description('delete the repository for good: key files and config first (crypto-erase), then everything else')
    .option('--crypto-erase', 'required: remove every key file and the config before anything else')
    .option('--confirm <id>', 'the repository id (8 or 64 hex characters) instead of typing it at the prompt')
    .addHelpText(
      'after',
      '\nOnce the key files and the config are gone nothing stored can be decrypted, with any password: copies of\n' +
        'the data made elsewhere become unreadable too, unless someone kept a key file or a recovery file/code\n' +
        '(`repo key export`). If the command is interrupted after that point, run it again to remove the rest.\n' +
        'Example:\n  repo destroy --crypto-erase --confirm 1a2b3c4d',
    )
    .action((flags: DestroyFlags, c: Command) => runDestroy(Env.from(c), flags));
}

function matchesId(typed: string, id: string | undefined): boolean {
  const t = typed.trim().toLowerCase();
  if (!/^[0-9a-f]{8}$|^[0-9a-f]{64}$/.test(t)) return false;
  return id === undefined || id.startsWith(t);
}

async function confirmation(flags: DestroyFlags, question: string): Promise<string> {
  if (flags.confirm !== undefined) return flags.confirm;
  if (!process.stdin.isTTY)
    throw new RepoError('INVALID_ARGUMENT', 'not on a terminal: give the repository id with --confirm ID');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

async function runDestroy(env: Env, flags: DestroyFlags): Promise<void> {
  if (flags.cryptoErase !== true)
    throw new RepoError(
      'INVALID_ARGUMENT',
      'destroy needs --crypto-erase (key files and config are removed first, then everything else)',
    );
  const location = env.location;
  const backend = await openBackendWithoutConfig(location, env.backendOptions(true));
  let repo: Repository | undefined;
  try {
    const material = await hasKeyMaterial(backend);
    let id: string | undefined;
    let erased = { keysRemoved: 0, configRemoved: false };
    if (material.keys > 0) {
      // The password proves the right to destroy and shows the id to confirm; it opens nothing afterwards.
      repo = await Repository.open(backend, await env.password(), {
        skipIndex: true,
        onWarning: (m) => env.out.warn(m),
      });
      id = repo.id;
      const typed = await confirmation(
        flags,
        `this destroys repository ${shortId(id)} at ${backend.location}; type its id (${shortId(id)}) to confirm: `,
      );
      if (!matchesId(typed, id))
        throw new RepoError(
          'INVALID_ARGUMENT',
          `that is not the id of this repository (${shortId(id)}): nothing removed`,
        );
      erased = await eraseUnderLock(repo, backend, env);
    } else {
      // An earlier run removed the keys: the id is no longer readable, so only its form can be checked.
      const typed = await confirmation(
        flags,
        `no key file is left at ${backend.location}: its data is already unreadable; type the repository id to remove the rest: `,
      );
      if (!matchesId(typed, undefined))
        throw new RepoError('INVALID_ARGUMENT', 'a repository id is 8 or 64 hex characters: nothing removed');
      if (material.config) erased = await eraseKeyMaterial(backend);
    }
    if (!env.out.json)
      env.out.info(
        `removed ${erased.keysRemoved} key file${erased.keysRemoved === 1 ? '' : 's'}${erased.configRemoved ? ' and the config' : ''}: nothing stored can be decrypted any more`,
      );
    const rest = await eraseRest(backend, (type, n) => env.out.debug(`removed ${n} ${type} files`));
    for (const f of rest.foreign) env.out.warn(`left ${f}: not a repository file`);
    if (env.out.json)
      env.out.printJson({
        message_type: 'destroyed',
        ...(id !== undefined ? { repository: id } : {}),
        keys_removed: erased.keysRemoved,
        config_removed: erased.configRemoved,
        files_removed: rest.filesRemoved,
        foreign: rest.foreign,
      });
    else env.out.info(`removed ${rest.filesRemoved} more files: ${backend.location} is empty`);
  } finally {
    if (repo !== undefined) await repo.close().catch(() => undefined);
    else await backend.close().catch(() => undefined);
  }
}

/** Erases keys and config while holding an exclusive lock, so no backup or prune is mid-way (LOCKED otherwise). */
async function eraseUnderLock(
  repo: Repository,
  backend: Backend,
  env: Env,
): Promise<{ keysRemoved: number; configRemoved: boolean }> {
  const lock =
    env.globals.lock === false
      ? undefined
      : await Lock.acquire(repo, { exclusive: true, retryMs: 0, signal: runtime.controller.signal });
  try {
    return await eraseKeyMaterial(backend);
  } finally {
    // Its file is removed with the rest if this fails (the lock cannot be refreshed without the keys anyway).
    await lock?.release().catch(() => undefined);
  }
}
