// Where the repository password comes from: --password-command, --password-file, REPO_PASSWORD or a hidden TTY prompt.
// A password is never taken from a command-line value, never echoed, and never put into a message.

import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { childEnv } from '../core/child-env.js';
import { RepoError } from '../core/errors.js';
import { describeFsError } from '../archiver/index.js';

export interface PasswordSources {
  passwordFile?: string;
  passwordCommand?: string;
}

/** Which environment variables and prompt a password is looked up with (default: the repository's own). */
export interface PasswordLookup {
  /** Variable holding the password itself (default REPO_PASSWORD); null: none. */
  passwordVar?: string | null;
  /** Variable naming a password file (default REPO_PASSWORD_FILE); null: none. */
  fileVar?: string | null;
  /** Variable holding a password command (default REPO_PASSWORD_COMMAND); null: none. */
  commandVar?: string | null;
  /** Prompt on a terminal (default "enter password for repository: "). */
  prompt?: string;
  /** What the error says when no source is given. */
  missing?: string;
}

const NO_PASSWORD_MESSAGE = 'no password given: set REPO_PASSWORD, --password-file or --password-command';

/** The first line of a text, without its line ending. */
function firstLine(text: string): string {
  const i = text.search(/\r?\n/);
  return i < 0 ? text : text.slice(0, i);
}

/**
 * Resolves the password. Flags win over their environment variables (REPO_PASSWORD_FILE,
 * REPO_PASSWORD_COMMAND), a file or command wins over REPO_PASSWORD, and only without any of them
 * is the user prompted, which needs a terminal on stdin. `confirm` asks twice (for init).
 */
export async function getPassword(
  src: PasswordSources,
  opts: { confirm?: boolean; lookup?: PasswordLookup } = {},
): Promise<string> {
  const env = process.env;
  const lookup = opts.lookup ?? {};
  const fromVar = (name: string | null | undefined, dflt: string) => {
    const n = name === undefined ? dflt : name;
    return n === null ? undefined : nonEmpty(env[n]);
  };
  const file = src.passwordFile ?? fromVar(lookup.fileVar, 'REPO_PASSWORD_FILE');
  const command = src.passwordCommand ?? fromVar(lookup.commandVar, 'REPO_PASSWORD_COMMAND');
  const direct = fromVar(lookup.passwordVar, 'REPO_PASSWORD');
  if (file !== undefined && command !== undefined) {
    throw new RepoError('INVALID_ARGUMENT', 'give either a password file or a password command, not both');
  }
  let password: string;
  if (command !== undefined) password = await fromCommand(command);
  else if (file !== undefined) password = await fromFile(file);
  else if (direct !== undefined) password = direct;
  else if (process.stdin.isTTY) {
    password = await promptHidden(
      lookup.prompt ?? (opts.confirm ? 'enter password for new repository: ' : 'enter password for repository: '),
    );
    if (opts.confirm && password !== '') {
      const again = await promptHidden('enter password again: ');
      if (again !== password) throw new RepoError('INVALID_ARGUMENT', 'passwords do not match');
    }
  } else {
    throw new RepoError('NO_PASSWORD', lookup.missing ?? NO_PASSWORD_MESSAGE);
  }
  if (password === '') throw new RepoError('NO_PASSWORD', 'an empty password is not allowed');
  return password;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

async function fromFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new RepoError('INVALID_ARGUMENT', `cannot read password file ${file}: ${describeFsError(err)}`, {
      path: file,
    });
  }
  return firstLine(text);
}

/** Runs the command through the shell; its stdout's first line is the password. The command line is not echoed: it may hold a secret. */
function fromCommand(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, { shell: true, stdio: ['inherit', 'pipe', 'inherit'], env: childEnv() });
    const chunks: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => chunks.push(c));
    let settled = false;
    child.on('error', (err) => {
      if (settled) return;
      settled = true;
      reject(
        new RepoError('COMMAND_FAILED', `cannot run the password command: ${describeFsError(err)}`, {}, { cause: err }),
      );
    });
    child.on('close', (code, signal) => {
      if (settled) return;
      settled = true;
      if (code !== 0) {
        const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
        reject(new RepoError('COMMAND_FAILED', `the password command ${how}`));
        return;
      }
      resolve(firstLine(Buffer.concat(chunks).toString('utf8')));
    });
  });
}

// Typed-ahead input after a prompt's line end (e.g. both passwords pasted at once) belongs to the next prompt.
let typedAhead = '';

/** Reads one line from the terminal in raw mode without echo. Ctrl-C → INTERRUPTED, Ctrl-D on an empty line → NO_PASSWORD. */
function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  const decoder = new StringDecoder('utf8'); // not stdin.setEncoding: a later `backup --stdin` must still get bytes
  let buf: string[] = [];
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err?: Error) => {
      done = true;
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      const value = buf.join('');
      buf = [];
      if (err) reject(err);
      else resolve(value);
    };
    const onEnd = () => (buf.length === 0 ? finish(new RepoError('NO_PASSWORD', NO_PASSWORD_MESSAGE)) : finish());
    const onData = (data: Buffer | string) => {
      const chars = [...(typeof data === 'string' ? data : decoder.write(data))];
      for (let i = 0; i < chars.length && !done; i++) {
        const ch = chars[i];
        if (ch === '\r' || ch === '\n') {
          typedAhead = chars.slice(i + (ch === '\r' && chars[i + 1] === '\n' ? 2 : 1)).join('');
          finish();
        } else if (ch === '\u0003') finish(new RepoError('INTERRUPTED', 'interrupted'));
        else if (ch === '\u0004') onEnd();
        else if (ch === '\u007f' || ch === '\b') buf.pop();
        else if (ch === '\u0015') buf = [];
        else if (ch >= ' ') buf.push(ch);
      }
    };
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    if (typedAhead !== '') {
      const ahead = typedAhead;
      typedAhead = '';
      onData(ahead);
    }
    if (!done) stdin.resume();
  });
}
