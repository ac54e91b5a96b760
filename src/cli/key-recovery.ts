// `repo key export|import`: key escrow (spec §17). export writes the master key sealed under a separate recovery
// passphrase (a recovery file) and/or prints it as a checksummed recovery code; import turns either back into a
// new key file, which works when every key file is gone. Passphrases and codes never come from argv.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { describeFsError } from '../archiver/index.js';
import { openBackend } from '../backend/index.js';
import { RepoError } from '../core/errors.js';
import { shortId } from '../core/id.js';
import { calibrateScrypt, CHEAP_TEST_SCRYPT, type ScryptParams } from '../crypto/kdf.js';
import { writeFileAtomic } from '../core/atomic-file.js';
import { addKey } from '../repository/key-management.js';
import { Lock } from '../repository/lock.js';
import type { MasterKey } from '../repository/master-key.js';
import {
  createRecoveryFile,
  decodeRecoveryCode,
  encodeRecoveryCode,
  openRecoveryFile,
  parseRecoveryFile,
} from '../repository/recovery.js';
import { Repository } from '../repository/repository.js';
import { auditAround } from './audit-hook.js';
import { Env, runtime, withRepository } from './context.js';
import { getPassword } from './password.js';

interface KeyHelpers {
  newPassword: (flags: { newPasswordFile?: string }) => Promise<string>;
  newKeyKdf: () => Promise<ScryptParams>;
}

interface ExportFlags {
  recovery?: string;
  recoveryPasswordFile?: string;
  code?: boolean;
}

interface ImportFlags {
  recovery?: string;
  recoveryPasswordFile?: string;
  code?: boolean;
  codeFile?: string;
  newPasswordFile?: string;
}

export function registerKeyRecovery(key: Command, helpers: KeyHelpers): void {
  key
    .command('export')
    .description('escrow the master key: a recovery file sealed under a separate passphrase, and/or a recovery code')
    .option('--recovery <file>', 'write a recovery file (mode 0600; an existing file is never replaced)')
    .option(
      '--recovery-password-file <file>',
      'read the recovery passphrase from the first line of a file (default: $REPO_RECOVERY_PASSWORD, else prompt twice)',
    )
    .option('--code', 'print the recovery code: the master key itself, to be kept on paper in a safe place')
    .addHelpText(
      'after',
      '\nAnyone holding the recovery file and its passphrase, or the recovery code, can read every backup:\n' +
        'keep them apart from the repository and from each other. A wrong recovery passphrase on import exits 12.',
    )
    .action((flags: ExportFlags, c: Command) => runExport(Env.from(c), flags));
  key
    .command('import')
    .description('add a key file from a recovery file or code (works when every key file is gone)')
    .option('--recovery <file>', 'the recovery file `key export --recovery` wrote')
    .option(
      '--recovery-password-file <file>',
      'read the recovery passphrase from the first line of a file (default: $REPO_RECOVERY_PASSWORD, else prompt)',
    )
    .option('--code', 'use a recovery code: from --code-file, $REPO_RECOVERY_CODE or a prompt')
    .option('--code-file <file>', 'read the recovery code from a file')
    .option('--new-password-file <file>', 'read the new password from the first line of a file (default: prompt twice)')
    .action((flags: ImportFlags, c: Command) => runImport(Env.from(c), flags, helpers));
}

function recoveryPassphrase(file: string | undefined, confirm: boolean): Promise<string> {
  return getPassword(
    { passwordFile: file },
    {
      confirm,
      lookup: {
        passwordVar: 'REPO_RECOVERY_PASSWORD',
        fileVar: null,
        commandVar: null,
        prompt: 'enter recovery passphrase: ',
        missing:
          'no recovery passphrase given: use --recovery-password-file, set REPO_RECOVERY_PASSWORD, or run on a terminal',
      },
    },
  );
}

function recoveryKdf(): Promise<ScryptParams> {
  // REPO_TEST_KDF=cheap is for the test suite only, as for key files.
  return process.env.REPO_TEST_KDF === 'cheap' ? Promise.resolve(CHEAP_TEST_SCRYPT) : calibrateScrypt();
}

async function runExport(env: Env, flags: ExportFlags): Promise<void> {
  if (flags.recovery === undefined && flags.code !== true)
    throw new RepoError('INVALID_ARGUMENT', 'say what to export: --recovery FILE, --code, or both');
  if (flags.recovery !== undefined && existsSync(flags.recovery))
    throw new RepoError('INVALID_ARGUMENT', `${flags.recovery} already exists: a recovery file is never replaced`, {
      path: flags.recovery,
    });
  const result = await withRepository(env, { skipIndex: true }, async (repo) => {
    if (flags.recovery !== undefined) {
      const passphrase = await recoveryPassphrase(flags.recoveryPasswordFile, true);
      const bytes = await createRecoveryFile(passphrase, repo.key, repo.id, await recoveryKdf());
      try {
        await writeFileAtomic(flags.recovery, bytes.toString('utf8'), { mode: 0o600, makeDir: true });
      } catch (err) {
        throw new RepoError('INVALID_ARGUMENT', `cannot write ${flags.recovery}: ${describeFsError(err)}`, {
          path: flags.recovery,
        });
      }
    }
    return { repository: repo.id, code: flags.code === true ? encodeRecoveryCode(repo.key) : undefined };
  });
  if (env.out.json) {
    env.out.printJson({
      message_type: 'key_exported',
      repository: result.repository,
      ...(flags.recovery !== undefined ? { recovery_file: flags.recovery } : {}),
      ...(result.code !== undefined ? { recovery_code: result.code } : {}),
    });
    return;
  }
  if (flags.recovery !== undefined)
    env.out.info(`wrote recovery file ${flags.recovery} for repository ${shortId(result.repository)}`);
  if (result.code !== undefined) {
    env.out.info('recovery code (it opens every backup: keep it on paper, in a safe place):');
    env.out.print(result.code);
  }
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new RepoError('INVALID_ARGUMENT', `cannot read ${what} ${file}: ${describeFsError(err)}`, { path: file });
  }
}

async function recoveryCode(flags: ImportFlags): Promise<string> {
  if (flags.codeFile !== undefined) return readText(flags.codeFile, 'recovery code file');
  return getPassword(
    {},
    {
      lookup: {
        passwordVar: 'REPO_RECOVERY_CODE',
        fileVar: null,
        commandVar: null,
        prompt: 'enter recovery code: ',
        missing: 'no recovery code given: use --code-file, set REPO_RECOVERY_CODE, or run on a terminal',
      },
    },
  );
}

/** The master key the flags lead to, and the repository id a recovery file names (a code names none). */
async function recoveredKey(flags: ImportFlags): Promise<{ key: MasterKey; repository?: string }> {
  const useCode = flags.code === true || flags.codeFile !== undefined;
  if (useCode === (flags.recovery !== undefined))
    throw new RepoError('INVALID_ARGUMENT', 'give either --recovery FILE or --code (--code-file FILE)');
  if (useCode) return { key: decodeRecoveryCode(await recoveryCode(flags)) };
  const file = flags.recovery!;
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new RepoError('INVALID_ARGUMENT', `cannot read recovery file ${file}: ${describeFsError(err)}`, {
      path: file,
    });
  }
  const parsed = parseRecoveryFile(bytes, file);
  const key = await openRecoveryFile(parsed, await recoveryPassphrase(flags.recoveryPasswordFile, false));
  return { key, repository: parsed.repository };
}

async function runImport(env: Env, flags: ImportFlags, helpers: KeyHelpers): Promise<void> {
  // The location first: a missing repository is reported before anyone is asked for a passphrase.
  const backend = await openBackend(env.location, env.backendOptions(true));
  let repo: Repository | undefined;
  let lock: Lock | undefined;
  try {
    const { key, repository } = await recoveredKey(flags);
    repo = await Repository.openWithMasterKey(backend, key, { skipIndex: true, onWarning: (m) => env.out.warn(m) });
    if (repository !== undefined && repository !== repo.id)
      throw new RepoError(
        'INVALID_ARGUMENT',
        `the recovery file is for repository ${shortId(repository)}, not ${shortId(repo.id)}`,
      );
    const opened = repo;
    if (env.globals.lock !== false)
      lock = await Lock.acquire(opened, { exclusive: false, retryMs: 0, signal: runtime.controller.signal });
    const password = await helpers.newPassword(flags);
    const id = await auditAround(
      opened,
      async () => addKey(opened, password, { kdf: await helpers.newKeyKdf() }),
      (m) => env.out.warn(m),
    );
    if (env.out.json) env.out.printJson({ message_type: 'key_imported', added: id, repository: opened.id });
    else env.out.info(`saved new key ${shortId(id)} for repository ${shortId(opened.id)}`);
  } finally {
    await lock?.release().catch(() => undefined);
    if (repo !== undefined) await repo.close().catch(() => undefined);
    else await backend.close().catch(() => undefined);
  }
}
