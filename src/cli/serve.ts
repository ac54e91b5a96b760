// `repo serve`: serves repositories over restic's REST protocol v2 to users of a credentials file, each
// limited by a role (backup, restore, admin); `repo serve user add|remove` manages that file.
// Passwords come from REPO_SERVE_PASSWORD, a terminal prompt or stdin, never from argv.

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { RepoError } from '../core/errors.js';
import { Authenticator, ROLES, type Role, addUser, readCredentials, removeUser } from '../server/credentials.js';
import { AuditFeed } from '../server/audit-feed.js';
import { LockOwners } from '../server/lock-owners.js';
import { RestServer } from '../server/rest-server.js';
import { Env } from './context.js';
import { collect } from './parse.js';
import { getPassword } from './password.js';

interface ServeFlags {
  credentials?: string;
  listen: string;
  tlsCert?: string;
  tlsKey?: string;
  appendOnly?: boolean;
  mount: string[];
  subpaths?: boolean;
  maxRequestSize: string;
  timeout: string;
  privateRepos?: boolean;
  lockOwners?: string;
  audit?: boolean;
  auditInterval: string;
}

const DEFAULT_MAX_REQUEST = 128 * 1024 * 1024;

function credentialsFile(flag: string | undefined): string {
  const f = flag ?? process.env.REPO_SERVE_CREDENTIALS;
  if (f === undefined || f === '')
    throw new RepoError(
      'INVALID_ARGUMENT',
      'no credentials file given: use --credentials or set REPO_SERVE_CREDENTIALS',
    );
  return f;
}

export function registerServe(program: Command): void {
  const serve = program
    .command('serve')
    .description('serve repositories over the REST protocol to users with roles')
    .option('--credentials <file>', 'users, roles and password hashes (default $REPO_SERVE_CREDENTIALS)')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8000')
    .option('--tls-cert <file>', 'PEM certificate: serve HTTPS')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--append-only', 'give every user at most backup rights (nothing can be deleted or overwritten)')
    .option('--mount <path=location>', 'serve LOCATION at URL PATH (repeatable; default: -r at /)', collect, [])
    .option('--subpaths', 'also serve repositories under each location by sub-path (like rest-server --path)')
    .option('--max-request-size <bytes>', 'largest upload accepted', String(DEFAULT_MAX_REQUEST))
    .option('--timeout <seconds>', 'longest time one request may take', '300')
    .option('--private-repos', 'each user reaches only repositories under /USER/ (like rest-server --private-repos)')
    .option(
      '--lock-owners <file>',
      'where to remember which user created which lock (default: the credentials file + ".lock-owners")',
    )
    .option(
      '--audit',
      "append the request log to each repository's audit log (needs the repository password: REPO_PASSWORD, --password-file, …)",
    )
    .option('--audit-interval <seconds>', 'longest time a request waits before it is appended to the audit log', '60')
    .action((flags: ServeFlags, c: Command) => runServe(Env.from(c), flags));
  const user = serve.command('user').description('manage the users of the credentials file');
  user
    .command('add <name>')
    .description(
      'add a user (or change its role and password); the password comes from REPO_SERVE_PASSWORD, a prompt or stdin',
    )
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .action(async (name: string, flags: { role: string }, c: Command) => {
      const env = Env.from(c);
      if (!(ROLES as readonly string[]).includes(flags.role))
        throw new RepoError('INVALID_ARGUMENT', `--role must be one of ${ROLES.join(', ')}`);
      const file = credentialsFile(c.optsWithGlobals<{ credentials?: string }>().credentials);
      const password = await newPassword(name);
      const replaced = await addUser(file, name, flags.role as Role, password);
      env.out.info(`${replaced ? 'updated' : 'added'} user ${name} with role ${flags.role}`);
    });
  user
    .command('remove <name>')
    .description('remove a user')
    .action((name: string, _flags: unknown, c: Command) => {
      const env = Env.from(c);
      if (!removeUser(credentialsFile(c.optsWithGlobals<{ credentials?: string }>().credentials), name))
        throw new RepoError('NOT_FOUND', `no user ${name}`);
      env.out.info(`removed user ${name}`);
    });
}

async function newPassword(name: string): Promise<string> {
  const env = process.env.REPO_SERVE_PASSWORD;
  if (env !== undefined && env !== '') return env;
  if (process.stdin.isTTY) {
    return getPassword(
      {},
      {
        confirm: true,
        lookup: { passwordVar: null, fileVar: null, commandVar: null, prompt: `password for user ${name}: ` },
      },
    );
  }
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const line = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0];
  if (line === '')
    throw new RepoError('INVALID_ARGUMENT', 'no password given: set REPO_SERVE_PASSWORD or write it to stdin');
  return line;
}

function positive(raw: string, what: string): number {
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new RepoError('INVALID_ARGUMENT', `${what} must be a positive integer`);
  return n;
}

function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(s);
  if (m === null) throw new RepoError('INVALID_ARGUMENT', '--listen must be HOST:PORT');
  const port = Number(m[3]);
  if (port > 65535) throw new RepoError('INVALID_ARGUMENT', '--listen has an invalid port');
  return { host: m[1] ?? (m[2] === '' ? '127.0.0.1' : m[2]), port };
}

function readPem(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new RepoError('INVALID_ARGUMENT', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
      path: file,
    });
  }
}

async function runServe(env: Env, flags: ServeFlags): Promise<void> {
  const credsFile = credentialsFile(flags.credentials);
  const creds = readCredentials(credsFile);
  const auth = new Authenticator(creds);
  if (auth.size === 0)
    throw new RepoError(
      'INVALID_ARGUMENT',
      'the credentials file has no users: add one with `repo serve user add NAME --role admin`',
    );
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined))
    throw new RepoError('INVALID_ARGUMENT', '--tls-cert and --tls-key go together');
  // Private repositories live at sub-paths (/alice/…), so they imply --subpaths.
  const subpaths = flags.subpaths === true || flags.privateRepos === true;
  const mounts =
    flags.mount.length === 0
      ? [{ prefix: '/', location: env.location, subpaths }]
      : flags.mount.map((m) => {
          const eq = m.indexOf('=');
          if (eq < 1) throw new RepoError('INVALID_ARGUMENT', '--mount must be PATH=LOCATION');
          const p = m.slice(0, eq).replace(/^\/*/, '/').replace(/\/*$/, '/');
          return { prefix: p, location: m.slice(eq + 1), subpaths };
        });
  const { host, port } = parseListen(flags.listen);
  const lockOwners = LockOwners.load(flags.lockOwners ?? `${credsFile}.lock-owners`);
  const feed =
    flags.audit === true
      ? new AuditFeed({
          password: await env.password(),
          intervalMs: positive(flags.auditInterval, '--audit-interval') * 1000,
          warn: (line) => process.stderr.write(`warning: ${line}\n`),
        })
      : undefined;
  const server = new RestServer({
    mounts,
    auth,
    appendOnly: flags.appendOnly === true,
    maxRequestBytes: positive(flags.maxRequestSize, '--max-request-size'),
    timeoutMs: positive(flags.timeout, '--timeout') * 1000,
    tls: flags.tlsCert !== undefined ? { cert: readPem(flags.tlsCert), key: readPem(flags.tlsKey!) } : undefined,
    log: (line) => process.stderr.write(`${line}\n`),
    privateRepos: flags.privateRepos === true,
    lockOwners,
    onRequest: feed === undefined ? undefined : (loc, backend, rec) => feed.note(loc, backend, rec),
  });
  const signal = env.signal;
  const addr = await server.listen(host, port);
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  process.stderr.write(
    `serving ${mounts.length} location${mounts.length === 1 ? '' : 's'} on ${flags.tlsCert ? 'https' : 'http'}://${shown}:${addr.port}/${flags.appendOnly ? ' (append-only)' : ''}\n`,
  );
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
    process.once('SIGTERM', () => resolve());
  });
  // Appended before the backends close: the last requests are in the audit log too.
  await feed?.close();
  await server.close();
}
