// `repo key list|add|passwd|remove`: the passwords (key files) of a repository.
// Never removes the key in use or the last key; removing and changing take an exclusive lock.

import type { Command } from 'commander';
import { shortId } from '../core/id.js';
import { calibrateScrypt, CHEAP_TEST_SCRYPT, type ScryptParams } from '../crypto/kdf.js';
import { addKey, changePassword, listKeys, removeKey } from '../repository/key-management.js';
import { Env, withRepository } from './context.js';
import { formatTimestamp, renderTable } from './format.js';
import { getPassword } from './password.js';
import { registerKeyRecovery } from './key-recovery.js';

export interface NewPasswordFlags {
  newPasswordFile?: string;
}

export function registerKey(program: Command): void {
  const key = program
    .command('key')
    .description('manage the passwords (key files) of the repository')
    .addHelpText(
      'after',
      '\nEvery key file holds the same master key sealed under one password; any of them opens the repository.\n' +
        'Examples:\n  repo key add --new-password-file new.txt\n  repo key passwd\n  repo key remove 1a2b3c4d\n' +
        '  repo key export --recovery /safe/place/repo.recovery --code\n  repo key import --recovery /safe/place/repo.recovery',
    );
  key
    .command('list')
    .description('list the key files; * marks the one the password opened')
    .action((_flags: unknown, c: Command) => runList(Env.from(c)));
  key
    .command('add')
    .description('add a key file for a new password')
    .option('--new-password-file <file>', 'read the new password from the first line of a file (default: prompt twice)')
    .action((flags: NewPasswordFlags, c: Command) => runAdd(Env.from(c), flags));
  key
    .command('passwd')
    .description('change the password: add a key for the new password, then remove the current key')
    .option('--new-password-file <file>', 'read the new password from the first line of a file (default: prompt twice)')
    .action((flags: NewPasswordFlags, c: Command) => runPasswd(Env.from(c), flags));
  key
    .command('remove')
    .description('remove a key file (not the one in use, never the last one)')
    .argument('<id>', 'key id or a unique prefix of one')
    .action((id: string, _flags: unknown, c: Command) => runRemove(Env.from(c), id));
  registerKeyRecovery(key, { newPassword, newKeyKdf });
}

/** scrypt parameters for new key files: calibrated (~0.5 s), or the cheap test values with REPO_TEST_KDF=cheap. */
export async function newKeyKdf(): Promise<ScryptParams> {
  // REPO_TEST_KDF=cheap is for the test suite only (as in init): far too cheap for a real password.
  return process.env.REPO_TEST_KDF === 'cheap' ? CHEAP_TEST_SCRYPT : calibrateScrypt();
}

export function newPassword(flags: NewPasswordFlags): Promise<string> {
  return getPassword(
    { passwordFile: flags.newPasswordFile },
    {
      confirm: true,
      lookup: {
        passwordVar: null,
        fileVar: null,
        commandVar: null,
        prompt: 'enter new password: ',
        missing: 'no new password given: use --new-password-file, or run on a terminal to be asked for it',
      },
    },
  );
}

async function runList(env: Env): Promise<void> {
  const keys = await withRepository(env, { skipIndex: true }, (repo) => listKeys(repo));
  if (env.out.json) {
    env.out.printJson(
      // restic's keys, camelCase ones included (userName, hostName), so that scripts written for restic read them.
      keys.map((k) => ({
        message_type: 'key',
        current: k.current,
        id: k.id,
        userName: k.userName,
        hostName: k.hostName,
        created: k.created,
        ...(k.error === undefined ? {} : { error: k.error }),
      })),
    );
    return;
  }
  const rows = keys.map((k) => [
    k.current ? '*' : ' ',
    shortId(k.id),
    k.error === undefined ? k.userName : '?',
    k.error === undefined ? k.hostName : '?',
    k.error === undefined ? (k.created === '' ? '' : formatTimestamp(k.created)) : `unreadable: ${k.error}`,
  ]);
  env.out.print(renderTable([' ', 'ID', 'User', 'Host', 'Created'], rows));
}

async function runAdd(env: Env, flags: NewPasswordFlags): Promise<void> {
  const id = await withRepository(env, { skipIndex: true }, async (repo) =>
    addKey(repo, await newPassword(flags), { kdf: await newKeyKdf() }),
  );
  if (env.out.json) env.out.printJson({ message_type: 'key_added', added: id });
  else env.out.info(`saved new key ${shortId(id)}`);
}

async function runPasswd(env: Env, flags: NewPasswordFlags): Promise<void> {
  const r = await withRepository(
    env,
    { skipIndex: true },
    async (repo) => changePassword(repo, await newPassword(flags), { kdf: await newKeyKdf() }),
    'exclusive',
  );
  if (env.out.json) env.out.printJson({ message_type: 'key_changed', ...r });
  else env.out.info(`saved new key ${shortId(r.added)} and removed the old key ${shortId(r.removed)}`);
}

async function runRemove(env: Env, ref: string): Promise<void> {
  const id = await withRepository(env, { skipIndex: true }, (repo) => removeKey(repo, ref), 'exclusive');
  if (env.out.json) env.out.printJson({ message_type: 'key_removed', removed: id });
  else env.out.info(`removed key ${shortId(id)}`);
}
