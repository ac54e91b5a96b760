// Key management: list, add, passwd, remove, and the rules that keep a repository openable.

import { describe, expect, it } from 'vitest';
import { CHEAP_TEST_SCRYPT } from '../../src/crypto/kdf.js';
import { addKey, changePassword, listKeys, removeKey, resolveKeyId } from '../../src/repository/key-management.js';
import { Repository } from '../../src/repository/repository.js';
import { memoryRepo, PASSWORD } from '../helpers/repo.js';

const kdf = CHEAP_TEST_SCRYPT;

describe('key management', () => {
  it('lists keys with the current one marked; an added key opens the same repository', async () => {
    const { repo, backend } = await memoryRepo({ workers: 0 });
    const first = await listKeys(repo);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({
      id: repo.keyName,
      current: true,
      kdf: { name: 'scrypt', N: kdf.N, r: kdf.r, p: kdf.p },
    });
    expect(first[0].created).toMatch(/^\d{4}-\d\d-\d\dT/);

    const added = await addKey(repo, 'second password', { kdf, now: new Date('2030-01-01T00:00:00Z') });
    const keys = await listKeys(repo);
    expect(keys.map((k) => [k.id, k.current])).toEqual([
      [repo.keyName, true],
      [added, false],
    ]);
    expect(keys[1].created).toBe('2030-01-01T00:00:00.000Z');

    const other = await Repository.open(backend, 'second password', { workers: 0 });
    expect(other.keyName).toBe(added);
    expect(other.id).toBe(repo.id);
    expect(other.key.bytes().equals(repo.key.bytes())).toBe(true);
    expect((await listKeys(other)).find((k) => k.current)!.id).toBe(added);
  });

  it('never removes the key in use nor the last key; removes another by id prefix', async () => {
    const { repo, backend } = await memoryRepo({ workers: 0 });
    await expect(removeKey(repo, repo.keyName)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/key in use/),
    });
    const added = await addKey(repo, 'two', { kdf });
    await expect(removeKey(repo, repo.keyName.slice(0, 8))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(removeKey(repo, 'zz')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(removeKey(repo, 'f'.repeat(64))).rejects.toMatchObject({ code: 'NOT_FOUND' });

    // Opened with the second password, the first key can go; then the second is the last and stays.
    const viaSecond = await Repository.open(backend, 'two', { workers: 0 });
    expect(await removeKey(viaSecond, repo.keyName.slice(0, 10))).toBe(repo.keyName);
    await expect(Repository.open(backend, PASSWORD)).rejects.toMatchObject({ code: 'WRONG_PASSWORD' });
    await expect(removeKey(viaSecond, added)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((await listKeys(viaSecond)).map((k) => k.id)).toEqual([added]);
  });

  it('the last-key rule holds even for a handle whose own key file is already gone', async () => {
    const { repo, backend } = await memoryRepo({ workers: 0 });
    const added = await addKey(repo, 'two', { kdf });
    const stale = await Repository.open(backend, 'two', { workers: 0 });
    await removeKey(repo, added); // removed through the other handle
    await expect(removeKey(stale, repo.keyName)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/last key/),
    });
  });

  it('passwd adds a key for the new password, then removes the current one', async () => {
    const { repo, backend } = await memoryRepo({ workers: 0 });
    const other = await addKey(repo, 'other', { kdf });
    const { added, removed } = await changePassword(repo, 'new password', { kdf });
    expect(removed).toBe(repo.keyName);
    const ids = (await listKeys(repo)).map((k) => k.id).sort();
    expect(ids).toEqual([added, other].sort());
    await expect(Repository.open(backend, PASSWORD)).rejects.toMatchObject({ code: 'WRONG_PASSWORD' });
    expect((await Repository.open(backend, 'new password', { workers: 0 })).keyName).toBe(added);
    expect((await Repository.open(backend, 'other', { workers: 0 })).keyName).toBe(other);
    await expect(addKey(repo, '', { kdf })).rejects.toMatchObject({ code: 'NO_PASSWORD' });
  });

  it('lists a damaged key file instead of failing, so it can be removed', async () => {
    const { repo, backend } = await memoryRepo({ workers: 0 });
    const junk = Buffer.from('not json');
    const { blake3 } = await import('../../src/crypto/blake3.js');
    const name = blake3(junk).toString('hex');
    await backend.save({ type: 'keys', name }, junk);
    const keys = await listKeys(repo);
    expect(keys).toHaveLength(2);
    expect(keys[1]).toMatchObject({ id: name, current: false });
    expect(keys[1].error).toMatch(/not valid JSON/);
    expect(await resolveKeyId(repo, name.slice(0, 6))).toBe(name);
    await removeKey(repo, name);
    expect(await listKeys(repo)).toHaveLength(1);
  });
});
