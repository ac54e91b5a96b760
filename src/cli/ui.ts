// `repo ui`: a local web UI over one repository (timeline, browsing, downloads, diff, plots; restore with
// --allow-restore), served on loopback with a random access token in the printed URL. Beyond loopback only
// with TLS and a password (REPO_UI_PASSWORD or --ui-password-file, never argv). Holds a shared lock while it runs.

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { errorMessage, RepoError } from '../core/errors.js';
import type { ProfileStatus } from '../ops/status.js';
import { isLoopback, newToken, parseListen } from '../ui/access.js';
import { UiServer } from '../ui/server.js';
import { Env, withRepository } from './context.js';
import { profileStatuses } from './status.js';

interface UiFlags {
  listen: string;
  tlsCert?: string;
  tlsKey?: string;
  uiPasswordFile?: string;
  allowRestore?: boolean;
}

export function registerUi(program: Command): void {
  program
    .command('ui')
    .description('serve a local web UI: snapshot timeline, browsing, downloads, diff and plots')
    .option('--listen <host:port>', 'address to listen on (port 0: any free port)', '127.0.0.1:0')
    .option('--tls-cert <file>', 'PEM certificate: serve HTTPS (required beyond loopback)')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--ui-password-file <file>', 'file whose first line is the UI password (default $REPO_UI_PASSWORD)')
    .option('--allow-restore', 'allow restoring a path into a new local directory from the UI')
    .addHelpText(
      'after',
      '\nThe URL printed holds a random access token; a request without it (or the cookie it sets) gets 401.\nBeyond loopback, --tls-cert, --tls-key and a password (asked as HTTP Basic) are required.',
    )
    .action((flags: UiFlags, c: Command) => runUi(Env.from(c), flags));
}

function readSecretFile(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new RepoError(
      'INVALID_ARGUMENT',
      `cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`,
      {
        path: file,
      },
    );
  }
}

function uiPassword(flags: UiFlags): string | undefined {
  const raw =
    flags.uiPasswordFile !== undefined
      ? readSecretFile(flags.uiPasswordFile, '--ui-password-file').split(/\r?\n/)[0]
      : process.env.REPO_UI_PASSWORD;
  return raw === undefined || raw === '' ? undefined : raw;
}

/** The statuses of repo.yaml's profiles, or null when there is no repo.yaml (RPO/RTO plots then say so). */
export function profilesOf(env: Env): () => Promise<ProfileStatus[] | null> {
  return async () => {
    const { findConfigFile } = await import('../ops/config.js');
    try {
      findConfigFile(env.globals.config);
    } catch {
      if (env.globals.config === undefined && (process.env.REPO_CONFIG ?? '') === '') return null;
      throw new RepoError(
        'INVALID_ARGUMENT',
        `cannot read the config file ${env.globals.config ?? process.env.REPO_CONFIG}`,
      );
    }
    return profileStatuses(env, [], true);
  };
}

async function runUi(env: Env, flags: UiFlags): Promise<void> {
  const { host, port } = parseListen(flags.listen);
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined))
    throw new RepoError('INVALID_ARGUMENT', '--tls-cert and --tls-key go together');
  const password = uiPassword(flags);
  if (!isLoopback(host) && (flags.tlsCert === undefined || password === undefined))
    throw new RepoError(
      'INVALID_ARGUMENT',
      `refusing to listen on ${host} beyond loopback without TLS and a password: give --tls-cert, --tls-key and REPO_UI_PASSWORD or --ui-password-file`,
    );
  const tls =
    flags.tlsCert !== undefined
      ? { cert: readSecretFile(flags.tlsCert, '--tls-cert'), key: readSecretFile(flags.tlsKey!, '--tls-key') }
      : undefined;
  const signal = env.signal;
  await withRepository(env, {}, async (repo) => {
    const token = newToken();
    const server = new UiServer({
      repo,
      token,
      password,
      tls,
      allowRestore: flags.allowRestore === true,
      plots: { profiles: profilesOf(env) },
      log: (line) => process.stderr.write(`${line}\n`),
    });
    const addr = await server.listen(host, port);
    const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    const url = `${tls ? 'https' : 'http'}://${shown}:${addr.port}/?token=${token}`;
    env.out.print(
      env.out.json
        ? JSON.stringify({ message_type: 'ui', url, restore: flags.allowRestore === true })
        : `repo ui: open ${url}`,
    );
    env.out.info(`(Ctrl-C stops it${flags.allowRestore ? '; restore is allowed' : ''})`);
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
      process.once('SIGTERM', () => resolve());
    });
    await server.close();
  });
}
