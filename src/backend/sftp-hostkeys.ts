// Host key verification for the SFTP backend against OpenSSH known_hosts files (plain and hashed
// `|1|salt|hash` entries, patterns with * ? and !, `[host]:port`, @revoked). Strict: an unknown or a
// changed key is refused, with the key's SHA256 fingerprint in the message; there is no "accept once".

import { createHash, createHmac } from 'node:crypto';
import * as fs from 'node:fs';

/** One usable line of a known_hosts file. */
export interface KnownHostEntry {
  file: string;
  line: number;
  /** The key type written on the line (e.g. ssh-ed25519). */
  keyType: string;
  /** The public key blob (SSH wire format). */
  key: Buffer;
  revoked: boolean;
  patterns: string;
}

/** The outcome of checking a host key: accepted, or refused with a one-line reason. */
export type HostKeyVerdict = { ok: true } | { ok: false; reason: 'unknown' | 'changed' | 'revoked'; message: string };

/** `SHA256:<base64 without padding>`, as `ssh-keygen -l` prints it. */
export function sha256Fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named inside a public key blob (its first SSH string). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return 'unknown';
  const n = key.readUInt32BE(0);
  return n > 0 && n < 64 && key.length >= 4 + n ? key.subarray(4, 4 + n).toString('latin1') : 'unknown';
}

/** The name a host is recorded under: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globToRegExp(glob: string): RegExp {
  const re = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i');
}

/** Whether a hashed pattern `|1|salt|hash` is HMAC-SHA1(salt, name). */
function hashedMatches(pattern: string, name: string): boolean {
  const parts = pattern.split('|');
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2], 'base64');
  const want = Buffer.from(parts[3], 'base64');
  const got = createHmac('sha1', salt).update(name).digest();
  return got.length === want.length && got.equals(want);
}

/**
 * Whether a comma-separated pattern list matches `name` (`host` or `[host]:port`): a negated match
 * (`!pattern`) rules the line out, as in sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT".
 */
export function patternsMatch(patterns: string, name: string): boolean {
  let matched = false;
  for (const raw of patterns.split(',')) {
    if (raw === '') continue;
    const negated = raw.startsWith('!');
    const p = negated ? raw.slice(1) : raw;
    const hit = p.startsWith('|') ? hashedMatches(p, name) : globToRegExp(p).test(name);
    if (hit && negated) return false;
    if (hit) matched = true;
  }
  return matched;
}

/** Parses one known_hosts file; a missing file has no entries. Malformed lines are skipped, as ssh does. */
export function readKnownHosts(file: string): KnownHostEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
  const out: KnownHostEntry[] = [];
  text.split('\n').forEach((lineText, i) => {
    const fields = lineText.trim().split(/\s+/);
    if (fields[0] === '' || fields[0].startsWith('#')) return;
    let revoked = false;
    if (fields[0].startsWith('@')) {
      const marker = fields.shift();
      // Certificate authorities are not supported: such lines vouch for no key by themselves.
      if (marker !== '@revoked') return;
      revoked = true;
    }
    if (fields.length < 3) return;
    const key = Buffer.from(fields[2], 'base64');
    if (key.length === 0 || keyTypeOf(key) !== fields[1]) return;
    out.push({ file, line: i + 1, keyType: fields[1], key, revoked, patterns: fields[0] });
  });
  return out;
}

/** All entries of `files` that name the host (as `hostname` on `port`). */
export function entriesFor(files: readonly string[], hostname: string, port: number): KnownHostEntry[] {
  const name = knownHostsName(hostname, port);
  return files.flatMap((f) => readKnownHosts(f)).filter((e) => patternsMatch(e.patterns, name));
}

/** Host key algorithms ssh2 may negotiate for the key types known for a host, so that a known key is chosen. */
export function algorithmsFor(entries: readonly KnownHostEntry[]): string[] {
  const out: string[] = [];
  for (const e of entries) {
    if (e.revoked) continue;
    const algs = e.keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [e.keyType];
    for (const a of algs) if (!out.includes(a)) out.push(a);
  }
  return out;
}

/** Checks the key a server presented against the entries for its name. */
export function verifyHostKey(
  entries: readonly KnownHostEntry[],
  key: Buffer,
  hostname: string,
  port: number,
  files: readonly string[],
): HostKeyVerdict {
  const name = knownHostsName(hostname, port);
  const fp = `${keyTypeOf(key)} key ${sha256Fingerprint(key)}`;
  const revoked = entries.find((e) => e.revoked && e.key.equals(key));
  if (revoked !== undefined) {
    return {
      ok: false,
      reason: 'revoked',
      message: `the host key of ${name} (${fp}) is marked @revoked in ${revoked.file}:${revoked.line}; refusing to connect`,
    };
  }
  if (entries.some((e) => !e.revoked && e.key.equals(key))) return { ok: true };
  const other = entries.find((e) => !e.revoked);
  if (other !== undefined) {
    return {
      ok: false,
      reason: 'changed',
      message:
        `the host key of ${name} has CHANGED (the server offered ${fp}; ${other.file}:${other.line} records another key): ` +
        'refusing to connect, someone may be intercepting the connection; if the key was replaced on purpose, remove the old line',
    };
  }
  return {
    ok: false,
    reason: 'unknown',
    message:
      `the host key of ${name} is not known (${fp}; looked in ${files.join(', ') || 'no known_hosts file'}): refusing to connect; ` +
      `check the fingerprint, then add the key (e.g. ssh-keyscan${port === 22 ? '' : ` -p ${port}`} ${hostname} >> ~/.ssh/known_hosts)`,
  };
}
