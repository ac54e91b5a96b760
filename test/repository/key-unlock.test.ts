// Opening with damaged key files (issue 14 item 4): a damaged key file is tried after the intact ones, its sealed
// master key decides, and a wrong password on a damaged file is reported as damage, never as a wrong key.
import { describe, expect, it } from 'vitest';
import { isRepoError } from '../../src/core/errors.js';
import { CHEAP_TEST_SCRYPT } from '../../src/crypto/kdf.js';
import { addKey } from '../../src/repository/key-management.js';
import { salvageKeyFile } from '../../src/repository/key-unlock.js';
import { Repository } from '../../src/repository/repository.js';
import { memoryRepo, PASSWORD } from '../helpers/repo.js';

async function damage(
  backend: Awaited<ReturnType<typeof memoryRepo>>['backend'],
  name: string,
  edit: (text: string) => string,
): Promise<void> {
  const text = (await backend.load({ type: 'keys', name })).toString('latin1');
  await backend.save({ type: 'keys', name }, Buffer.from(edit(text), 'latin1'));
}

describe('unlocking with damaged key files', () => {
  it('a damaged label opens with a warning; a wrong password on it is damage (INTEGRITY), not WRONG_PASSWORD', async () => {
    const { repo, backend } = await memoryRepo({ kdf: CHEAP_TEST_SCRYPT });
    const [name] = await repo.listNames('keys');
    await damage(backend, name, (t) => t.replace(/"hostname": "/, '"hostname": "X'));
    const warnings: string[] = [];
    const opened = await Repository.open(backend, PASSWORD, { onWarning: (m) => warnings.push(m) });
    expect(opened.key.bytes().equals(repo.key.bytes())).toBe(true);
    expect(warnings).toEqual([expect.stringContaining(`keys/${name} is damaged`)]);
    const err = await Repository.open(backend, 'not the password').catch((e) => e);
    expect(isRepoError(err, 'INTEGRITY')).toBe(true);
    expect(err.message).toContain(`keys/${name}`);
  });

  it('one wrong base64 character of the sealed key is corrected by authentication', async () => {
    const { repo, backend } = await memoryRepo({ kdf: CHEAP_TEST_SCRYPT });
    const [name] = await repo.listNames('keys');
    await damage(backend, name, (t) =>
      t.replace(/("data": "[A-Za-z0-9+/]{20})(.)/, (_, a: string, c: string) => a + (c === 'A' ? 'B' : 'A')),
    );
    const opened = await Repository.open(backend, PASSWORD, { onWarning: () => undefined });
    expect(opened.key.bytes().equals(repo.key.bytes())).toBe(true);
  });

  it('an intact key file of another password is used first, without a warning', async () => {
    const { repo, backend } = await memoryRepo({ kdf: CHEAP_TEST_SCRYPT });
    const [first] = await repo.listNames('keys');
    await addKey(repo, 'second password', { kdf: CHEAP_TEST_SCRYPT });
    await damage(backend, first, (t) =>
      t.replace(/"salt": "(.)/, (_, c: string) => `"salt": "${c === 'A' ? 'B' : 'A'}`),
    );
    const warnings: string[] = [];
    await Repository.open(backend, 'second password', { onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    const err = await Repository.open(backend, PASSWORD).catch((e) => e);
    expect(isRepoError(err, 'INTEGRITY')).toBe(true); // its salt cannot be guessed
    expect(err.message).toContain(`keys/${first}`);
  });

  it('salvage reads members from broken JSON and proposes parameters one digit away, within the spec bounds', () => {
    const text =
      '{"version":1,"kdf":"scrypt","N":1034,"r":8,"p":1,"salt":"c2FsdHNhbHRzYWx0c2FsdA==","created":"x","hostname":"h\u0000,"username":"u","data":"QUJD"}';
    const s = salvageKeyFile(Buffer.from(text, 'latin1'))!;
    expect(s.data).toBe('QUJD');
    expect(s.params[0]).toEqual({ N: 1024, r: 8, p: 1 }); // 1034 is no power of two; 1024 is one digit away
    expect(s.params.every((c) => c.r >= 1 && c.r <= 32 && c.p >= 1 && c.p <= 16)).toBe(true);
    expect(salvageKeyFile(Buffer.from('{"N":1024}'))).toBeUndefined();
  });
});
