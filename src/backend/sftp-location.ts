// SFTP repository locations (`sftp:[user@]host:path`, `sftp://[user@]host[:port]//abs/path`) and how they
// combine with the user's ~/.ssh/config (Host, HostName, User, Port, IdentityFile, UserKnownHostsFile).
// Must never accept a password in a location, and never echo anything after the host in an error.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import type SSHConfigType from 'ssh-config';
import { errorMessage, RepoError } from '../core/errors.js';

/** A parsed `sftp:` location. `path` is absolute (starts with '/') or relative to the login directory. */
export interface SftpLocation {
  /** The host as written (an alias of ~/.ssh/config, a name, or an IP address without brackets). */
  host: string;
  user?: string;
  port?: number;
  path: string;
}

/** Where the SFTP backend looks for the user's SSH files and agent. */
export interface SftpOptions {
  /** Home directory holding .ssh/; default $HOME of `env`, else os.homedir(). */
  home?: string;
  /** Path of the ssh client configuration; default HOME/.ssh/config. */
  sshConfig?: string;
}

/** Everything needed to connect, after ~/.ssh/config has been applied. */
export interface SftpTarget {
  /** The name used in messages: the host as the user wrote it. */
  alias: string;
  /** The host actually connected to (HostName), also the name looked up in known_hosts. */
  hostname: string;
  port: number;
  user: string;
  path: string;
  /** Private key files to offer, in order (existing files only). */
  identityFiles: string[];
  /** known_hosts files to check, in order (missing ones are skipped). */
  knownHostsFiles: string[];
  /** ssh-agent socket (SSH_AUTH_SOCK), if any. */
  agent?: string;
}

function invalid(message: string): RepoError {
  return new RepoError('INVALID_ARGUMENT', message, { scheme: 'sftp' });
}

function parsePort(text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535))
    throw invalid(`invalid port in sftp location: ${JSON.stringify(text.slice(0, 10))}`);
  return port;
}

/** Splits `[user@]host` (host may be `[v6addr]`) and refuses `user:password@`. */
function splitUserHost(text: string, decode: boolean): { user?: string; host: string } {
  const at = text.lastIndexOf('@');
  let user = at < 0 ? undefined : text.slice(0, at);
  let host = at < 0 ? text : text.slice(at + 1);
  if (user !== undefined) {
    if (user.includes(':')) {
      throw invalid(
        'sftp locations cannot carry a password: use ssh-agent or a key file (IdentityFile in ~/.ssh/config)',
      );
    }
    if (decode) user = decodeURIComponent(user);
    if (user === '') throw invalid('empty user name in sftp location');
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '' || /[\s/@[\]]/.test(host)) throw invalid('no valid host in sftp location (sftp:[user@]host:/path)');
  return user === undefined ? { host } : { user, host };
}

/**
 * Parses what follows `sftp:`. Two forms, as restic:
 * - `[user@]host:path`: path absolute with a leading '/', otherwise relative to the login directory;
 * - `//[user@]host[:port]/path`: a URL; `//abs` after the host is an absolute path, `/rel` a relative one.
 * Throws RepoError('INVALID_ARGUMENT') for anything else.
 */
// Required when an sftp: location is resolved, not when the backends are registered: every command starts faster.
let sshConfigModule: typeof SSHConfigType | undefined;
function sshConfig(): typeof SSHConfigType {
  return (sshConfigModule ??= createRequire(import.meta.url)('ssh-config') as typeof SSHConfigType);
}

export function parseSftpLocation(rest: string): SftpLocation {
  if (rest.startsWith('//')) {
    const body = rest.slice(2);
    const slash = body.indexOf('/');
    if (slash < 0 || slash === body.length - 1)
      throw invalid('no path in sftp location (sftp://[user@]host[:port]//abs/path)');
    const authority = body.slice(0, slash);
    const p = body.slice(slash + 1);
    const at = authority.lastIndexOf('@');
    const hostPort = authority.slice(at + 1);
    const close = hostPort.startsWith('[') ? hostPort.indexOf(']') : -1;
    const colon = hostPort.indexOf(':', close + 1);
    const hostEnd = colon < 0 ? hostPort.length : colon;
    const userHost = splitUserHost(authority.slice(0, at + 1 + hostEnd), true);
    const loc: SftpLocation = { ...userHost, path: decodeURIComponent(p) };
    if (colon >= 0) loc.port = parsePort(hostPort.slice(colon + 1));
    return finishPath(loc);
  }
  // [user@]host:path, where host may be a bracketed IPv6 address.
  const m = /^((?:[^@/]*@)?(?:\[[^\]]*\]|[^:/[\]]*)):(.*)$/s.exec(rest);
  if (m === null) throw invalid('sftp locations look like sftp:[user@]host:/path or sftp://[user@]host[:port]//path');
  return finishPath({ ...splitUserHost(m[1], false), path: m[2] });
}

function finishPath(loc: SftpLocation): SftpLocation {
  let p = loc.path;
  if (p === '' || p === '/') throw invalid('no repository path in sftp location');
  if (p.includes('\u0000')) throw invalid('invalid character in sftp path');
  p = path.posix.normalize(p);
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  if (p === '.' || p === '..' || p.startsWith('../'))
    throw invalid('sftp repository path must name a directory below the login directory or be absolute');
  return { ...loc, path: p };
}

/** `sftp:user@host:/path` or, with a port, `sftp://user@host:port//path` (the form restic prints). */
export function formatSftpLocation(loc: SftpLocation): string {
  const host = loc.host.includes(':') ? `[${loc.host}]` : loc.host;
  const user = loc.user === undefined ? '' : `${loc.user}@`;
  if (loc.port === undefined) return `sftp:${user}${host}:${loc.path}`;
  return `sftp://${user}${host}:${loc.port}/${loc.path}`;
}

/** `~/x` and `%d`, `%u`, `%h`, `%r`, `%p`, `%%` of ssh_config(5) in IdentityFile and UserKnownHostsFile. */
function expandPath(p: string, home: string, t: { hostname: string; user: string; port: number }): string {
  let out = p.replace(/%([dhupr%])/g, (_, c: string) => {
    switch (c) {
      case 'd':
        return home;
      case 'h':
        return t.hostname;
      case 'u':
        return os.userInfo().username;
      case 'r':
        return t.user;
      case 'p':
        return String(t.port);
      default:
        return '%';
    }
  });
  if (out === '~') out = home;
  else if (out.startsWith('~/')) out = path.join(home, out.slice(2));
  return path.resolve(home, out);
}

function asList(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  // UserKnownHostsFile takes several space-separated files on one line.
  return (Array.isArray(v) ? v : [v])
    .flatMap((x) => x.split(/\s+/))
    .filter((x) => x !== '' && x.toLowerCase() !== 'none');
}

function localUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'root';
  }
}

/**
 * Applies ~/.ssh/config to a location: the location's own user and port win over the file's, as
 * with `ssh`. Only Host blocks are evaluated; `Match exec` is never run. Reading a missing config
 * file is not an error; an unreadable one is.
 */
export function resolveSftpTarget(
  loc: SftpLocation,
  opts: SftpOptions = {},
  env: Record<string, string | undefined> = process.env,
): SftpTarget {
  const home = opts.home ?? env.HOME ?? os.homedir();
  const configFile = opts.sshConfig ?? path.join(home, '.ssh', 'config');
  let computed: Record<string, string | string[]> = {};
  let text: string | undefined;
  try {
    text = fs.readFileSync(configFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new RepoError('INVALID_ARGUMENT', `sftp: cannot read ${configFile}: ${errorMessage(err)}`, {
        path: configFile,
      });
    }
  }
  if (text !== undefined) {
    try {
      computed = sshConfig().parse(text).compute(loc.host, { matchExec: false });
    } catch (err) {
      throw new RepoError('INVALID_ARGUMENT', `sftp: cannot parse ${configFile}: ${errorMessage(err)}`, {
        path: configFile,
      });
    }
  }
  const one = (k: string): string | undefined => {
    const v = computed[k];
    return Array.isArray(v) ? v[0] : v;
  };
  const hostname = one('HostName')?.replace(/%h/g, loc.host) ?? loc.host;
  const user = loc.user ?? one('User') ?? localUser();
  const port = loc.port ?? (one('Port') === undefined ? 22 : parsePort(one('Port')!));
  const t = { hostname, user, port };
  const explicit = asList(computed.IdentityFile).map((f) => expandPath(f, home, t));
  const defaults = ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => path.join(home, '.ssh', f));
  const identityFiles = (explicit.length > 0 ? explicit : defaults).filter((f) => fs.existsSync(f));
  const userKnown = asList(computed.UserKnownHostsFile);
  const knownHostsFiles = [
    ...(userKnown.length > 0
      ? userKnown.map((f) => expandPath(f, home, t))
      : [path.join(home, '.ssh', 'known_hosts'), path.join(home, '.ssh', 'known_hosts2')]),
    ...asList(computed.GlobalKnownHostsFile ?? ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2']).map((f) =>
      expandPath(f, home, t),
    ),
  ];
  const target: SftpTarget = { alias: loc.host, hostname, port, user, path: loc.path, identityFiles, knownHostsFiles };
  const agent = one('IdentityAgent');
  if (agent !== undefined && agent.toLowerCase() !== 'none' && agent !== 'SSH_AUTH_SOCK')
    target.agent = expandPath(agent, home, t);
  else if (agent === undefined || agent === 'SSH_AUTH_SOCK') {
    if (env.SSH_AUTH_SOCK !== undefined && env.SSH_AUTH_SOCK !== '') target.agent = env.SSH_AUTH_SOCK;
  }
  return target;
}
