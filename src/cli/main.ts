#!/usr/bin/env node
// Entry point of the `repo` command: builds the commander program, runs one command, maps its outcome to an exit code.
// The only place that calls process.exit; errors become one `repo: …` line (stack traces only with -v or for bugs).

import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { isRepoError, type ErrorCode } from '../core/errors.js';
import { registerBackup } from './backup.js';
import { registerCat } from './cat.js';
import { runtime } from './context.js';
import { collect } from './parse.js';
import { registerDump } from './dump.js';
import { registerInit } from './init.js';
import { registerLs } from './ls.js';
import { registerRestore } from './restore.js';
import { registerSnapshots } from './snapshots.js';
import { registerUnlock } from './unlock.js';
import { registerVersion, versionLine } from './version.js';
import { registerAnalyze } from './analyze.js';
import { registerDiff } from './diff.js';
import { registerFind } from './find.js';
import { registerStats } from './stats.js';
import { registerTag } from './tag.js';
import { registerCheck } from './check.js';
import { registerForget } from './forget.js';
import { registerPrune } from './prune.js';
import { registerRepair } from './repair.js';
import { registerCacheOptions } from './cache.js';
import { registerCopy } from './copy.js';
import { registerKey } from './key.js';
import { noteCommand } from './audit-hook.js';
import { registerLog } from './log.js';
import { registerGenerate } from './generate.js';
import { registerRun } from './run.js';
import { registerSchedule } from './schedule.js';
import { registerStatus } from './status.js';
import { registerServe } from './serve.js';
import { exitErrorJson } from './json-messages.js';
import { registerProfileOptions } from './profile-option.js';
import { adoptResticEnvironment } from './restic-env.js';
import { registerWal } from './wal.js';
import { registerPg } from './pg.js';
import { registerRewrite } from './rewrite.js';
import { registerRecover } from './recover.js';
import { registerList } from './list.js';
import { registerDestroy } from './destroy.js';
import { registerS3 } from './s3.js';
import { registerMount } from './mount.js';
import { registerUi } from './ui.js';
import { registerReport } from './report.js';
import { registerMigrate } from './migrate.js';

// Restores and backups of many small files wait on the libuv thread pool (open, write, chmod, utimes,
// close); its default of 4 threads leaves the CPU idle. Read by libuv at the first pool request, which
// happens after this line.
process.env.UV_THREADPOOL_SIZE ??= '16';
runtime.cliScript = (globalThis as { repoCliScript?: string }).repoCliScript ?? fileURLToPath(import.meta.url);

const EXIT_OK = 0;
const EXIT_ERROR = 1;
const EXIT_NO_REPOSITORY = 10;
const EXIT_LOCKED = 11;
const EXIT_WRONG_PASSWORD = 12;
const EXIT_INTERRUPTED = 130;

const EPILOG = `
Environment:
  REPO_REPOSITORY        repository location (instead of -r/--repo)
  REPO_PASSWORD          the repository password
  REPO_PASSWORD_FILE     file whose first line is the password (instead of --password-file)
  REPO_PASSWORD_COMMAND  shell command printing the password (instead of --password-command)
  REPO_CONFIG            config file with profiles (instead of --config)
Without any of them the password is asked for on the terminal. Passwords are never
accepted as command-line arguments.

Exit codes:
  0    success
  1    error (invalid arguments, missing or damaged data, I/O failure, failed command)
  2    status: a profile misses its recovery objectives (RPO, RTO or check interval)
  4    status: nothing is missed, but an RTO is unknown (no check measured a read rate)
  3    backup saved, but some source files could not be read
  10   the repository does not exist
  11   the repository is locked
  12   wrong password (or wrong recovery passphrase for key import)
  130  interrupted (Ctrl-C; press it twice to exit immediately)`;

const CODE_EXIT: Partial<Record<ErrorCode, number>> = {
  REPO_NOT_FOUND: EXIT_NO_REPOSITORY,
  NOT_A_REPOSITORY: EXIT_NO_REPOSITORY,
  LOCKED: EXIT_LOCKED,
  WRONG_PASSWORD: EXIT_WRONG_PASSWORD,
  INTERRUPTED: EXIT_INTERRUPTED,
};

/** Whether --json was given (before any "--"): then even errors found while parsing are JSON lines. */
let jsonOutput = false;

/** Commander's messages, as "repo: …" lines (exit_error JSON with --json), with any value given to a --password… option blanked out. */
function formatCommanderError(str: string): string {
  const text = commanderErrorText(str);
  return jsonOutput ? exitErrorJson(EXIT_ERROR, text) + '\n' : `repo: ${text}\n`;
}

function commanderErrorText(str: string): string {
  let msg = str.trim().replace(/^error: /, '');
  msg = msg.replace(/(--?password[\w-]*)=[^'"\s]*/gi, '$1=…');
  if (/unknown option '--?password(?!-file|-command)/i.test(msg)) {
    msg +=
      '\n(passwords are not accepted on the command line: set REPO_PASSWORD, or use --password-file or --password-command)';
  }
  return msg;
}

function buildProgram(): Command {
  const program = new Command('repo');
  program
    .description('encrypted, deduplicating backups')
    .usage('[options] <command> [arguments]')
    .option('-r, --repo <location>', 'repository location (default: $REPO_REPOSITORY)')
    .option('--password-file <file>', 'read the password from the first line of a file (default: $REPO_PASSWORD_FILE)')
    .option(
      '--password-command <command>',
      'run a shell command and use the first line it prints as the password (default: $REPO_PASSWORD_COMMAND)',
    )
    .option('--no-lock', 'do not lock the repository (for read-only storage; unsafe while others prune)')
    .option('--retry-lock <duration>', 'wait up to this long (e.g. 30s, 5m) for a conflicting lock to go away')
    .option(
      '-o, --option <key=value>',
      'set a backend option, e.g. rclone.program=PATH, rest.connections=8 (repeatable)',
      collect,
    )
    .option(
      '--cacert <file>',
      'also trust the CA certificates in this PEM file for https: rest: servers (repeatable)',
      collect,
    )
    .option('--tls-client-cert <file>', 'present this PEM file (certificate and private key) to https: rest: servers')
    .option('--limit-upload <KiB/s>', 'limit uploads to remote repositories to this rate (default: unlimited)')
    .option('--limit-download <KiB/s>', 'limit downloads from remote repositories to this rate (default: unlimited)')
    .option('--json', 'machine-readable JSON output')
    .option('-q, --quiet', 'print only results, warnings and errors')
    .option('-v, --verbose', 'more detail, including stack traces of errors')
    // What `repo version` prints, for scripts that ask every tool for --version.
    .version(versionLine(), '--version', 'print version information and exit')
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(formatCommanderError(str)) })
    .addHelpText('after', EPILOG);
  // Registered after exitOverride/configureOutput so that every subcommand inherits them.
  registerInit(program);
  registerBackup(program);
  registerSnapshots(program);
  registerStats(program);
  registerDiff(program);
  registerFind(program);
  registerTag(program);
  registerAnalyze(program);
  registerLs(program);
  registerRestore(program);
  registerDump(program);
  registerCat(program);
  registerCheck(program);
  registerRepair(program);
  registerForget(program);
  registerPrune(program);
  registerUnlock(program);
  registerVersion(program);
  registerCacheOptions(program);
  registerProfileOptions(program);
  registerCopy(program);
  registerKey(program);
  registerRun(program);
  registerSchedule(program);
  registerStatus(program);
  registerServe(program);
  registerWal(program);
  registerPg(program);
  registerRewrite(program);
  registerRecover(program);
  registerList(program);
  registerDestroy(program);
  registerS3(program);
  registerMount(program);
  registerUi(program);
  registerReport(program);
  registerMigrate(program);
  registerLog(program);
  registerGenerate(program, EPILOG);
  program.hook('preAction', (_root, action) => noteCommand(action)); // which command runs, for the audit log
  return program;
}

function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The error line: `repo: …`, or with --json restic 0.17's `{"message_type":"exit_error",…}`. */
function printError(message: string, code: number): void {
  process.stderr.write(jsonOutput ? exitErrorJson(code, message) + '\n' : `repo: ${message}\n`);
}

/** Prints the error and returns the exit code for it. */
function reportError(err: unknown, verbose: boolean): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_ERROR; // commander has printed it
  if (errnoCode(err) === 'EPIPE') return EXIT_ERROR; // the reader of our output went away; nobody to tell
  const interrupted = runtime.controller.signal.aborted;
  if (isRepoError(err)) {
    let msg = err.message;
    if (err.code === 'INTERRUPTED' || interrupted) msg = /interrupt/i.test(msg) ? msg : 'interrupted';
    const file = err.context.file;
    if (
      typeof file === 'string' &&
      file !== '' &&
      !msg.includes(file) &&
      ['INTEGRITY', 'FORMAT', 'NOT_FOUND', 'BACKEND'].includes(err.code)
    ) {
      msg += ` (${file})`;
    }
    const code = interrupted ? EXIT_INTERRUPTED : (CODE_EXIT[err.code] ?? EXIT_ERROR);
    printError(msg, code);
    if (verbose) printStack(err);
    return code;
  }
  if (interrupted) {
    printError('interrupted', EXIT_INTERRUPTED);
    if (verbose) printStack(err);
    return EXIT_INTERRUPTED;
  }
  const message = err instanceof Error ? err.message : String(err);
  printError(message, EXIT_ERROR);
  // A system error (EACCES, ENOSPC, …) is about the environment, not a bug: no stack unless asked for.
  const systemError = err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string';
  if (verbose || !systemError) printStack(err);
  return EXIT_ERROR;
}

function printStack(err: unknown): void {
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 5; depth++) {
    process.stderr.write(`${depth === 0 ? '' : 'caused by: '}${e.stack ?? e.message}\n`);
    e = e.cause;
  }
}

let exiting = false;

/** Waits until what was written to stdout and stderr has been handed to the OS, then exits. */
async function exit(code: number): Promise<never> {
  exiting = true;
  const drain = (s: NodeJS.WriteStream) =>
    s.destroyed || s.writableLength === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => s.write('', () => resolve()));
  await Promise.all([drain(process.stdout), drain(process.stderr)]);
  process.exit(code);
}

async function main(argv: string[]): Promise<void> {
  adoptResticEnvironment();
  const end = argv.indexOf('--');
  jsonOutput = (end < 0 ? argv : argv.slice(0, end)).includes('--json');
  const verbose = () => argv.includes('-v') || argv.includes('--verbose');
  let interrupts = 0;
  process.on('SIGINT', () => {
    if (exiting) process.exit(EXIT_INTERRUPTED);
    interrupts++;
    if (interrupts === 1 && runtime.abortable) {
      // The running command stops at its next check, cleans up and ends with exit code 130.
      runtime.controller.abort(new Error('interrupted'));
      process.stderr.write('\nrepo: interrupting (press Ctrl-C again to exit immediately)\n');
      return;
    }
    process.stderr.write('\nrepo: interrupted\n');
    process.exit(EXIT_INTERRUPTED);
  });
  // A closed stdout (e.g. `repo dump … | head`) fails the command's next write, which then cleans up
  // (locks) and ends with exit 1 without a message; without this listener Node would throw instead.
  process.stdout.on('error', () => undefined);
  // A failure nobody awaited (e.g. a background upload) still ends the run as an error, once.
  process.on('unhandledRejection', (err) => {
    if (!exiting) void exit(reportError(err, verbose()));
  });

  const program = buildProgram();
  let code: number;
  try {
    await program.parseAsync(argv);
    code = runtime.exitCode;
  } catch (err) {
    code = reportError(err, verbose() || program.opts().verbose === true);
  }
  await exit(code);
}

void main(process.argv);
