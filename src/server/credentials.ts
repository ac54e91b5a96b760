// The users of `repo serve`: a JSON file of names, roles and scrypt password hashes (never a password).
// Written crash-safely (temp file, fsync, rename, fsync of the directory) with mode 0600.

import { randomBytes, scrypt as scryptCb, timingSafeEqual, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFileAtomicSync } from '../core/atomic-file.js';
import { RepoError } from '../core/errors.js';

export type Role = 'backup' | 'restore' | 'admin';
export const ROLES: readonly Role[] = ['backup', 'restore', 'admin'];

interface StoredUser {
  name: string;
  role: Role;
  /** scrypt parameters, base64 salt and base64 derived key. */
  scrypt: { N: number; r: number; p: number; salt: string; hash: string };
}

interface CredentialsFile {
  version: 1;
  users: StoredUser[];
}

const SCRYPT = { N: 1 << 15, r: 8, p: 1 };
const KEY_LEN = 32;

function derive(password: string, salt: Buffer, N: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, KEY_LEN, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

export function validUserName(name: string): boolean {
  return /^[A-Za-z0-9._-]{1,64}$/.test(name);
}

export function readCredentials(file: string): CredentialsFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, users: [] };
    throw new RepoError(
      'INVALID_ARGUMENT',
      `cannot read the credentials file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      { path: file },
    );
  }
  let parsed: CredentialsFile;
  try {
    parsed = JSON.parse(text) as CredentialsFile;
  } catch {
    throw new RepoError('FORMAT', `the credentials file ${file} is not JSON`, { path: file });
  }
  if (parsed?.version !== 1 || !Array.isArray(parsed.users))
    throw new RepoError('FORMAT', `the credentials file ${file} has an unknown format`, { path: file });
  for (const u of parsed.users) {
    if (
      typeof u?.name !== 'string' ||
      !ROLES.includes(u.role) ||
      typeof u.scrypt?.hash !== 'string' ||
      typeof u.scrypt?.salt !== 'string'
    ) {
      throw new RepoError('FORMAT', `the credentials file ${file} has an invalid user entry`, { path: file });
    }
  }
  return parsed;
}

function writeCredentials(file: string, creds: CredentialsFile): void {
  writeFileAtomicSync(file, `${JSON.stringify(creds, null, 2)}\n`, { mode: 0o600 });
}

/** Adds a user, or replaces the role and password of an existing one. Returns whether it replaced one. */
export async function addUser(file: string, name: string, role: Role, password: string): Promise<boolean> {
  if (!validUserName(name))
    throw new RepoError('INVALID_ARGUMENT', 'a user name is 1 to 64 letters, digits, ".", "_" or "-"');
  if (password === '') throw new RepoError('INVALID_ARGUMENT', 'the password must not be empty');
  const creds = readCredentials(file);
  const salt = randomBytes(16);
  const hash = await derive(password, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p);
  const entry: StoredUser = {
    name,
    role,
    scrypt: { ...SCRYPT, salt: salt.toString('base64'), hash: hash.toString('base64') },
  };
  const i = creds.users.findIndex((u) => u.name === name);
  if (i >= 0) creds.users[i] = entry;
  else creds.users.push(entry);
  writeCredentials(file, creds);
  return i >= 0;
}

export function removeUser(file: string, name: string): boolean {
  const creds = readCredentials(file);
  const users = creds.users.filter((u) => u.name !== name);
  if (users.length === creds.users.length) return false;
  writeCredentials(file, { version: 1, users });
  return true;
}

/** Checks name/password pairs against the file's hashes; remembers successes (by a digest) so scrypt runs once per pair. */
export class Authenticator {
  private readonly users: Map<string, StoredUser>;
  private readonly verified = new Map<string, Role>();

  constructor(creds: CredentialsFile) {
    this.users = new Map(creds.users.map((u) => [u.name, u]));
  }

  get size(): number {
    return this.users.size;
  }

  /** The user's role, or undefined when the name or password is wrong. */
  async check(name: string, password: string): Promise<Role | undefined> {
    const u = this.users.get(name);
    if (u === undefined) return undefined;
    const memo = createHash('sha256').update(name).update('\0').update(password).digest('hex');
    const hit = this.verified.get(memo);
    if (hit !== undefined) return hit;
    const { N, r, p, salt, hash } = u.scrypt;
    const want = Buffer.from(hash, 'base64');
    const got = await derive(password, Buffer.from(salt, 'base64'), N, r, p);
    if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
    this.verified.set(memo, u.role);
    return u.role;
  }
}
