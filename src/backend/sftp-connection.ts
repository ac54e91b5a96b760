// One SSH connection with its SFTP channel, for the SFTP backend: authentication (ssh-agent, then key
// files), strict host key checking, and the mapping of connection failures to one-line errors.
// Must never log or echo key material or passphrases, and never accept a host key it cannot vouch for.

import * as fs from 'node:fs';
import ssh2 from 'ssh2';
import type {
  AnyAuthMethod,
  AuthenticationType,
  ConnectConfig,
  ParsedKey,
  SFTPWrapper,
  Client as SshClient,
} from 'ssh2';
import { BackendError, errorMessage } from '../core/errors.js';
import { TransientBackendError } from './backend.js';
import { algorithmsFor, entriesFor, verifyHostKey } from './sftp-hostkeys.js';
import type { SftpTarget } from './sftp-location.js';

const { Client, utils } = ssh2;

/** Host key algorithms ssh2 supports, in the order tried when known_hosts says nothing about them. */
const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];
const READY_TIMEOUT_MS = 20_000;
/** A dead peer (cable pulled, server frozen) is noticed after about KEEPALIVE_MS × KEEPALIVE_MAX. */
const KEEPALIVE_MS = 10_000;
const KEEPALIVE_MAX = 3;
/**
 * Payload per SFTP read/write request when the server names no limit, and the most we use even when it
 * allows more (OpenSSH announces 255 KiB): with 128 KiB, 16 requests in flight fill ssh2's 2 MiB channel
 * window; 255 KiB requests took about twice the client CPU per byte here (measured on loopback).
 */
const DEFAULT_IO_CHUNK = 32 * 1024;
const MAX_IO_CHUNK = 128 * 1024;

/** A connected SFTP channel. `alive` turns false when the connection ends, after which it is never reused. */
export interface SftpSession {
  readonly client: SshClient;
  readonly sftp: SFTPWrapper;
  alive: boolean;
  /** Bytes per read or write request. */
  readonly readChunk: number;
  readonly writeChunk: number;
  /** Whether the server offers fsync@openssh.com / posix-rename@openssh.com. */
  readonly fsync: boolean;
  readonly posixRename: boolean;
  /** Ends the connection. */
  end(): void;
}

/** `user@host:port` for messages (never more). */
export function describeTarget(t: SftpTarget): string {
  const host = t.hostname.includes(':') ? `[${t.hostname}]` : t.hostname;
  return `${t.user}@${host}${t.port === 22 ? '' : `:${t.port}`}`;
}

interface KeyCandidate {
  file: string;
  key: ParsedKey;
}

/** Loads the identity files that can be used without a passphrase; notes the ones that cannot. */
function loadKeys(files: readonly string[]): { keys: KeyCandidate[]; skipped: string[] } {
  const keys: KeyCandidate[] = [];
  const skipped: string[] = [];
  for (const file of files) {
    let parsed: ParsedKey | ParsedKey[] | Error;
    try {
      parsed = utils.parseKey(fs.readFileSync(file)) as ParsedKey | ParsedKey[] | Error;
    } catch {
      skipped.push(`${file} (unreadable)`);
      continue;
    }
    if (parsed instanceof Error) {
      // The parser's message says "encrypted … no passphrase given" for protected keys; no key bytes in it.
      skipped.push(
        /encrypted|passphrase/i.test(parsed.message)
          ? `${file} (protected by a passphrase: load it into ssh-agent)`
          : `${file} (not a private key ssh2 can use)`,
      );
      continue;
    }
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (key === undefined || !key.isPrivateKey()) {
      skipped.push(`${file} (not a private key)`);
      continue;
    }
    keys.push({ file, key });
  }
  return { keys, skipped };
}

function ioChunk(sftp: SFTPWrapper, field: '_maxReadLen' | '_maxWriteLen'): number {
  const n = (sftp as unknown as Record<string, unknown>)[field];
  return typeof n === 'number' && n > 0 ? Math.min(n, MAX_IO_CHUNK) : DEFAULT_IO_CHUNK;
}

function hasExtension(sftp: SFTPWrapper, name: string): boolean {
  const ext = (sftp as unknown as { _extensions?: Record<string, unknown> })._extensions;
  return ext !== undefined && ext !== null && typeof ext === 'object' && name in ext;
}

const CONNECT_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed (temporary)',
};

/**
 * Connects, verifies the host key against the target's known_hosts files, authenticates and opens
 * the SFTP subsystem. Refused host keys, failed authentication and unknown host names are permanent
 * BackendErrors; refused, reset or timed-out connections are TransientBackendErrors (a retry may work).
 */
export function connectSftp(t: SftpTarget): Promise<SftpSession> {
  const who = describeTarget(t);
  const known = entriesFor(t.knownHostsFiles, t.hostname, t.port);
  const preferred = algorithmsFor(known).filter((a) => HOST_KEY_ALGORITHMS.includes(a));
  const serverHostKey = [...preferred, ...HOST_KEY_ALGORITHMS.filter((a) => !preferred.includes(a))];
  const { keys, skipped } = loadKeys(t.identityFiles);
  const methods: (() => AnyAuthMethod)[] = [];
  const tried: string[] = [];
  if (t.agent !== undefined) {
    methods.push(() => {
      tried.push('ssh-agent');
      return { type: 'agent', username: t.user, agent: t.agent! };
    });
  }
  for (const k of keys) {
    methods.push(() => {
      tried.push(k.file);
      return { type: 'publickey', username: t.user, key: k.key };
    });
  }
  let hostKeyRefusal: string | undefined;

  return new Promise<SftpSession>((resolve, reject) => {
    const client = new Client();
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      client.end();
      reject(err);
    };
    const config: ConnectConfig = {
      host: t.hostname,
      port: t.port,
      username: t.user,
      readyTimeout: READY_TIMEOUT_MS,
      keepaliveInterval: KEEPALIVE_MS,
      keepaliveCountMax: KEEPALIVE_MAX,
      algorithms: { serverHostKey: serverHostKey as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
      hostVerifier: (key: Buffer) => {
        const verdict = verifyHostKey(known, key, t.hostname, t.port, t.knownHostsFiles);
        if (!verdict.ok) hostKeyRefusal = verdict.message;
        return verdict.ok;
      },
      authHandler: (_left, _partial, next) => {
        const method = methods.shift();
        next(method === undefined ? (false as unknown as AuthenticationType) : method());
      },
    };
    client.on('error', (err: Error & { level?: string; code?: string }) => {
      if (hostKeyRefusal !== undefined) {
        fail(
          new BackendError(`sftp ${who}: ${hostKeyRefusal}`, { host: t.hostname, reason: 'host-key' }, { cause: err }),
        );
        return;
      }
      fail(connectError(err, who, tried, skipped, t));
    });
    client.on('close', () =>
      fail(new TransientBackendError(`sftp ${who}: connection closed during set-up`, { host: t.hostname })),
    );
    client.on('ready', () => {
      // Many small requests and replies in flight: Nagle's algorithm would hold each back for an ACK.
      client.setNoDelay(true);
      client.sftp((err, sftp) => {
        if (err !== undefined && err !== null) {
          fail(
            new BackendError(
              `sftp ${who}: the server refused the SFTP subsystem: ${err.message}`,
              { host: t.hostname },
              { cause: err },
            ),
          );
          return;
        }
        if (settled) {
          client.end();
          return;
        }
        settled = true;
        const session: SftpSession = {
          client,
          sftp,
          alive: true,
          readChunk: ioChunk(sftp, '_maxReadLen'),
          writeChunk: ioChunk(sftp, '_maxWriteLen'),
          fsync: hasExtension(sftp, 'fsync@openssh.com'),
          posixRename: hasExtension(sftp, 'posix-rename@openssh.com'),
          end: () => client.end(),
        };
        const dead = (): void => {
          session.alive = false;
        };
        client.on('close', dead);
        client.on('end', dead);
        sftp.on('close', dead);
        resolve(session);
      });
    });
    try {
      client.connect(config);
    } catch (err) {
      fail(new BackendError(`sftp ${who}: cannot connect: ${errorMessage(err)}`, { host: t.hostname }, { cause: err }));
    }
  });
}

function connectError(
  err: Error & { level?: string; code?: string },
  who: string,
  tried: string[],
  skipped: string[],
  t: SftpTarget,
): BackendError {
  const ctx = { host: t.hostname };
  const cause = { cause: err };
  if (err.level === 'client-authentication') {
    const offered =
      tried.length > 0 ? `tried ${tried.join(', ')}` : 'no ssh-agent (SSH_AUTH_SOCK) and no usable key file';
    const notes = skipped.length > 0 ? `; skipped ${skipped.join(', ')}` : '';
    return new BackendError(
      `sftp ${who}: authentication refused (${offered}${notes})`,
      { ...ctx, reason: 'auth' },
      cause,
    );
  }
  if (err.level === 'client-timeout') {
    return new TransientBackendError(
      `sftp ${who}: cannot connect: no SSH handshake within ${READY_TIMEOUT_MS / 1000} s`,
      ctx,
      cause,
    );
  }
  if (err.level === 'client-dns' || err.code === 'ENOTFOUND') {
    return new BackendError(`sftp ${who}: cannot connect: host name not found`, ctx, cause);
  }
  const what = err.code !== undefined ? CONNECT_CODES[err.code] : undefined;
  if (what !== undefined) return new TransientBackendError(`sftp ${who}: cannot connect: ${what}`, ctx, cause);
  if (/Connection lost before handshake/.test(err.message)) {
    // sshd drops connections beyond MaxStartups, and a restarting server accepts and closes: worth a retry.
    return new TransientBackendError(
      `sftp ${who}: cannot connect: the server closed the connection before the SSH handshake`,
      ctx,
      cause,
    );
  }
  if (err.level === 'handshake' || err.level === 'protocol') {
    return new BackendError(`sftp ${who}: SSH handshake failed: ${err.message}`, ctx, cause);
  }
  return new TransientBackendError(`sftp ${who}: cannot connect: ${err.message}`, ctx, cause);
}
