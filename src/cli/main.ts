#!/usr/bin/env node
// Entry point of the `repo` command: builds the commander program, runs one command, maps its outcome to an exit code.
// The only place that calls process.exit; errors become one `repo: …` line (stack traces only with -v or for bugs).

import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { isRepoError, type ErrorCode } from '../core/errors.js';
import { runtime } from './context.js';
import { collect } from './parse.js';
import { versionLine } from './version.js';
import { registerCacheOptions } from './cache.js';
import { noteCommand } from './audit-hook.js';
import { exitErrorJson } from './json-messages.js';
import { registerProfileOptions } from './profile-option.js';
import { adoptResticEnvironment } from './restic-env.js';
import { describeProgram, type HelpManifest } from './help-manifest.js';

// Restores and backups of many small files wait on the libuv thread pool (open, write, chmod, utimes,
// close); its default of 4 threads leaves the CPU idle. Read by libuv at the first pool request, which
// happens after this line.
process.env.UV_THREADPOOL_SIZE ??= '16';

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

type Register = (program: Command) => void;

/**
 * Every command, in `repo --help` order, with the module that registers it. Only the commands named on the command
 * line are loaded (all of them for help, or when none is named): a command's module brings everything it uses,
 * and loading all of them made every command pay for the server, the UI, the mount and the operations layer
 * (`repo version`: 0.33 → 0.22 s of CPU together with loading zod, cron-parser, ssh-config and zstd on demand).
 */
const COMMANDS: [string, () => Promise<Register>][] = [
  ['init', async () => (await import('./init.js')).registerInit],
  ['backup', async () => (await import('./backup.js')).registerBackup],
  ['snapshots', async () => (await import('./snapshots.js')).registerSnapshots],
  ['stats', async () => (await import('./stats.js')).registerStats],
  ['diff', async () => (await import('./diff.js')).registerDiff],
  ['find', async () => (await import('./find.js')).registerFind],
  ['tag', async () => (await import('./tag.js')).registerTag],
  ['analyze', async () => (await import('./analyze.js')).registerAnalyze],
  ['ls', async () => (await import('./ls.js')).registerLs],
  ['restore', async () => (await import('./restore.js')).registerRestore],
  ['dump', async () => (await import('./dump.js')).registerDump],
  ['cat', async () => (await import('./cat.js')).registerCat],
  ['check', async () => (await import('./check.js')).registerCheck],
  ['repair', async () => (await import('./repair.js')).registerRepair],
  ['forget', async () => (await import('./forget.js')).registerForget],
  ['prune', async () => (await import('./prune.js')).registerPrune],
  ['unlock', async () => (await import('./unlock.js')).registerUnlock],
  ['version', async () => (await import('./version.js')).registerVersion],
  ['copy', async () => (await import('./copy.js')).registerCopy],
  ['key', async () => (await import('./key.js')).registerKey],
  ['run', async () => (await import('./run.js')).registerRun],
  ['schedule', async () => (await import('./schedule.js')).registerSchedule],
  ['status', async () => (await import('./status.js')).registerStatus],
  ['serve', async () => (await import('./serve.js')).registerServe],
  ['wal', async () => (await import('./wal.js')).registerWal],
  ['pg', async () => (await import('./pg.js')).registerPg],
  ['rewrite', async () => (await import('./rewrite.js')).registerRewrite],
  ['recover', async () => (await import('./recover.js')).registerRecover],
  ['list', async () => (await import('./list.js')).registerList],
  ['destroy', async () => (await import('./destroy.js')).registerDestroy],
  ['s3', async () => (await import('./s3.js')).registerS3],
  ['mount', async () => (await import('./mount.js')).registerMount],
  ['ui', async () => (await import('./ui.js')).registerUi],
  ['report', async () => (await import('./report.js')).registerReport],
  ['migrate', async () => (await import('./migrate.js')).registerMigrate],
  ['log', async () => (await import('./log.js')).registerLog],
  [
    'generate',
    async () => {
      const { registerGenerate } = await import('./generate.js');
      return (program) => registerGenerate(program, EPILOG);
    },
  ],
];

/** The registrations to load for these arguments: the commands they name, or all of them when that is unsure. */
async function registersFor(argv: string[]): Promise<Register[]> {
  const args = argv.slice(2);
  const end = args.indexOf('--');
  const head = end < 0 ? args : args.slice(0, end);
  const named = COMMANDS.filter(([name]) => head.includes(name));
  const all = named.length === 0 || ['help', '--help', '-h', 'generate'].some((a) => head.includes(a));
  return Promise.all((all ? COMMANDS : named).map(([, load]) => load()));
}

function buildProgram(registers: Register[]): Command {
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
  for (const register of registers) register(program);
  registerCacheOptions(program);
  registerProfileOptions(program);
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

  const program = buildProgram(await registersFor(argv));
  let code: number;
  try {
    await program.parseAsync(argv);
    code = runtime.exitCode;
  } catch (err) {
    code = reportError(err, verbose() || program.opts().verbose === true);
  }
  await exit(code);
}

/** The overview of every command, for dist/bundle/help.json (written by scripts/bundle.mjs; see help-manifest.ts). */
export async function helpManifest(): Promise<HelpManifest> {
  return describeProgram(buildProgram(await Promise.all(COMMANDS.map(([, load]) => load()))));
}

/** Runs the command line; `cliScript` is the script that started it (what units, crontabs and child processes run). */
export function runCli(cliScript: string): void {
  runtime.cliScript = cliScript;
  void main(process.argv);
}

// Run directly (dist/cli/main.js): start. The bundle's entry (entry.ts) calls runCli itself.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runCli(fileURLToPath(import.meta.url));
}
