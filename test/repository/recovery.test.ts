// Recovery files and codes (spec §17): round trips, the repository binding, a wrong passphrase, and that the
// code's checksum catches every single mistyped character.
import { describe, expect, it } from 'vitest';
import { isRepoError } from '../../src/core/errors.js';
import { CHEAP_TEST_SCRYPT } from '../../src/crypto/kdf.js';
import { MasterKey } from '../../src/repository/master-key.js';
import {
  createRecoveryFile,
  decodeRecoveryCode,
  encodeRecoveryCode,
  openRecoveryFile,
  parseRecoveryFile,
} from '../../src/repository/recovery.js';
import { createKeyFile, openKeyFile, parseKeyFile } from '../../src/repository/keys.js';

const REPO_ID = 'ab'.repeat(32);

describe('recovery file', () => {
  it('opens with its passphrase only, and only for the repository it names', async () => {
    const key = MasterKey.generate();
    const bytes = await createRecoveryFile('escrow pass', key, REPO_ID, CHEAP_TEST_SCRYPT);
    const f = parseRecoveryFile(bytes, 'f');
    expect((await openRecoveryFile(f, 'escrow pass')).bytes().equals(key.bytes())).toBe(true);
    await expect(openRecoveryFile(f, 'other')).rejects.toSatisfy((e) => isRepoError(e, 'WRONG_PASSWORD'));
    await expect(openRecoveryFile({ ...f, repository: 'cd'.repeat(32) }, 'escrow pass')).rejects.toSatisfy((e) =>
      isRepoError(e, 'WRONG_PASSWORD'),
    );
    expect(() => parseRecoveryFile(Buffer.from('{"version":1,"kdf":"scrypt"}'), 'x')).toThrow(/not a recovery file/);
    expect(() => parseRecoveryFile(Buffer.from(JSON.stringify({ ...f, N: 3 })), 'x')).toThrow(/KDF parameters/);
  });

  it('shares the members of a key file, their names and order (spec §4, §17.1), sealed with a different AAD', async () => {
    const key = MasterKey.generate();
    const recovery = await createRecoveryFile('pass', key, REPO_ID, CHEAP_TEST_SCRYPT);
    const keyFile = await createKeyFile('pass', key, CHEAP_TEST_SCRYPT);
    const r = JSON.parse(recovery.toString()) as Record<string, unknown>;
    const k = JSON.parse(keyFile.toString()) as Record<string, unknown>;
    expect(Object.keys(r)).toEqual(['version', 'kind', 'repository', 'kdf', 'N', 'r', 'p', 'salt', 'created', 'data']);
    expect(Object.keys(k)).toEqual([
      'version',
      'kdf',
      'N',
      'r',
      'p',
      'salt',
      'created',
      'hostname',
      'username',
      'data',
    ]);
    expect(recovery.toString()).toBe(JSON.stringify(r, null, 2) + '\n');
    expect(keyFile.toString()).toBe(JSON.stringify(k, null, 2) + '\n');
    // The same members under the other file's AAD do not open: a recovery file is no key file.
    const asKeyFile = parseKeyFile(Buffer.from(JSON.stringify({ ...k, salt: r.salt, data: r.data })), 'k');
    expect(await openKeyFile(asKeyFile, 'pass')).toBeUndefined();
    expect((await openKeyFile(parseKeyFile(keyFile, 'k'), 'pass'))?.bytes().equals(key.bytes())).toBe(true);
  });
});

describe('recovery code', () => {
  it('round-trips, ignoring case, spaces and dashes; I/L/O read as 1/1/0', () => {
    const key = MasterKey.generate();
    const code = encodeRecoveryCode(key);
    expect(code).toMatch(/^RK1(-[0-9A-HJKMNP-TV-Z]{1,5}){22}$/);
    expect(decodeRecoveryCode(code.toLowerCase().replace(/-/g, ' ')).bytes().equals(key.bytes())).toBe(true);
    const withLookalikes = code.replace(/1/g, 'l').replace(/0/g, 'O');
    expect(decodeRecoveryCode(withLookalikes).bytes().equals(key.bytes())).toBe(true);
  });

  it('detects every single substituted character and a dropped one', () => {
    const code = encodeRecoveryCode(MasterKey.generate());
    const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    let caught = 0;
    let tried = 0;
    for (let i = 4; i < code.length; i++) {
      if (code[i] === '-') continue;
      const other = alphabet[(alphabet.indexOf(code[i]) + 7) % 32];
      tried++;
      try {
        decodeRecoveryCode(code.slice(0, i) + other + code.slice(i + 1));
      } catch (e) {
        if (isRepoError(e, 'INVALID_ARGUMENT')) caught++;
      }
    }
    expect(caught).toBe(tried);
    expect(() => decodeRecoveryCode(code.slice(0, -1))).toThrow(/wrong length/);
  });
});
