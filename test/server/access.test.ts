// The role rules of `repo serve` and its credentials file, without a server: what each role may do to
// each file type, --append-only's cap, and scrypt checks of right and wrong passwords.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FILE_TYPES } from '../../src/backend/backend.js';
import { effectiveRole, refusal } from '../../src/server/access.js';
import { addUser, Authenticator, readCredentials, removeUser } from '../../src/server/credentials.js';
import { tempDir } from '../helpers/repo.js';

describe('refusal', () => {
  it('lets every role read and list', () => {
    for (const role of ['backup', 'restore', 'admin'] as const) {
      for (const t of FILE_TYPES) {
        expect(refusal(role, 'read', t, true)).toBeUndefined();
        expect(refusal(role, 'list', t, true)).toBeUndefined();
      }
    }
  });

  it('backup creates only new data, index, snapshots, locks and audit files, and deletes only locks', () => {
    const creates = FILE_TYPES.filter((t) => refusal('backup', 'write', t, false) === undefined);
    expect(creates).toEqual(['data', 'index', 'snapshots', 'locks', 'audit']);
    for (const t of FILE_TYPES) expect(refusal('backup', 'write', t, true)).toBeDefined();
    expect(FILE_TYPES.filter((t) => refusal('backup', 'delete', t, true) === undefined)).toEqual(['locks']);
    expect(refusal('backup', 'delete', 'snapshots', true)).toBe(
      'role backup may delete only lock files, not snapshots files',
    );
    expect(refusal('backup', 'create-repository', undefined, false)).toBeDefined();
  });

  it('restore changes nothing; admin everything; --append-only caps admin at backup', () => {
    for (const t of FILE_TYPES) {
      expect(refusal('restore', 'write', t, false)).toMatch(/^role restore is read-only/);
      expect(refusal('restore', 'delete', t, true)).toMatch(/^role restore is read-only/);
      expect(refusal('admin', 'write', t, true)).toBeUndefined();
      expect(refusal('admin', 'delete', t, true)).toBeUndefined();
    }
    expect(effectiveRole('admin', true)).toBe('backup');
    expect(effectiveRole('restore', true)).toBe('restore');
    expect(effectiveRole('admin', false)).toBe('admin');
  });
});

describe('credentials file', () => {
  const dir = tempDir('repo-serve-creds-');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('stores hashes only and checks passwords', async () => {
    const file = path.join(dir, 'users.json');
    expect(await addUser(file, 'alice', 'backup', 'correct horse')).toBe(false);
    expect(await addUser(file, 'alice', 'restore', 'battery staple')).toBe(true);
    expect(fs.readFileSync(file, 'utf8')).not.toContain('battery');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const auth = new Authenticator(readCredentials(file));
    expect(await auth.check('alice', 'battery staple')).toBe('restore');
    expect(await auth.check('alice', 'battery staple')).toBe('restore'); // remembered
    expect(await auth.check('alice', 'correct horse')).toBeUndefined();
    expect(await auth.check('bob', 'battery staple')).toBeUndefined();
    await expect(addUser(file, '../x', 'admin', 'pw')).rejects.toThrow(/user name/);
    expect(removeUser(file, 'alice')).toBe(true);
    expect(removeUser(file, 'alice')).toBe(false);
    expect(readCredentials(file).users).toEqual([]);
  });

  it('refuses a file that is not a credentials file', () => {
    const file = path.join(dir, 'bad.json');
    fs.writeFileSync(file, '{"version":1,"users":[{"name":"x","role":"root"}]}');
    expect(() => readCredentials(file)).toThrow(/invalid user entry/);
  });
});
