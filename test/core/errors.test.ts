// withContext adds context to an error without losing what it is: its class, code and earlier context stay,
// the original becomes the cause. The restorer's blob errors are the case that used to lose the class.
import { describe, expect, it } from 'vitest';
import {
  BackendError,
  errorMessage,
  IntegrityError,
  isRepoError,
  NotFoundError,
  RepoError,
  withContext,
} from '../../src/core/errors.js';
import { blobError } from '../../src/restorer/content.js';
import type { RestoreContext } from '../../src/restorer/types.js';
import { memoryRepo } from '../helpers/repo.js';

describe('withContext', () => {
  it.each([
    ['BackendError', () => new BackendError('connection reset', { file: 'data/ab/ab12' }), BackendError, 'BACKEND'],
    [
      'IntegrityError',
      () => new IntegrityError('authentication failed', { pack: 'ab12' }),
      IntegrityError,
      'INTEGRITY',
    ],
    ['NotFoundError', () => new NotFoundError('no such file', { file: 'index/01' }), NotFoundError, 'NOT_FOUND'],
    ['RepoError', () => new RepoError('LOCKED', 'locked by pid 7'), RepoError, 'LOCKED'],
  ] as const)(
    'keeps the class and code of a %s, merges the context and keeps the original as cause',
    (_name, make, cls, code) => {
      const inner = make();
      const outer = withContext(
        inner,
        { path: '/srv/a.txt', file: undefined },
        { message: (m) => `${m} (restoring /srv/a.txt)` },
      );
      expect(outer).toBeInstanceOf(cls);
      expect(outer).not.toBe(inner);
      expect(outer.code).toBe(code);
      expect(outer.name).toBe(inner.name);
      expect(outer.message).toBe(`${inner.message} (restoring /srv/a.txt)`);
      expect(outer.context).toEqual({ ...inner.context, path: '/srv/a.txt' }); // an undefined key does not erase one
      expect(outer.cause).toBe(inner);
      expect(inner.message).not.toContain('restoring'); // the original is not changed
    },
  );

  it('keys given override the inner context; without a message option the message stays', () => {
    const outer = withContext(new BackendError('timeout', { path: 'pack.tmp', pack: 'p1' }), { path: 'a.txt' });
    expect(outer.context).toEqual({ path: 'a.txt', pack: 'p1' });
    expect(outer.message).toBe('timeout');
  });

  it('wraps anything else in a RepoError with the given code, or returns it unchanged without one', () => {
    const plain = new Error('EACCES: permission denied');
    const wrapped = withContext(plain, { path: 'x' }, { code: 'SOURCE', message: (m) => `cannot read x: ${m}` });
    expect(isRepoError(wrapped, 'SOURCE')).toBe(true);
    expect((wrapped as RepoError).message).toBe('cannot read x: EACCES: permission denied');
    expect((wrapped as RepoError).cause).toBe(plain);
    expect(withContext(plain, { path: 'x' })).toBe(plain);
    expect(withContext('a string', {})).toBe('a string');
  });

  it('errorMessage gives the text of anything thrown', () => {
    expect(errorMessage(new BackendError('gone'))).toBe('gone');
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage(42)).toBe('42');
  });
});

describe("the restorer's blob errors", () => {
  it('stay a BackendError (not a plain RepoError) and name the path, blob and pack', async () => {
    const { repo } = await memoryRepo();
    const ctx = { repo } as unknown as RestoreContext;
    const blob = Buffer.alloc(32, 7);
    const inner = new BackendError('connection reset', { pack: 'ab12' });
    const err = blobError(ctx, inner, Buffer.from('dir/file.bin'), blob);
    expect(err).toBeInstanceOf(BackendError);
    expect(err).toMatchObject({
      code: 'BACKEND',
      cause: inner,
      context: { path: 'dir/file.bin', blob: blob.toString('hex'), pack: 'ab12' },
    });
    expect((err as Error).message).toBe('connection reset (restoring dir/file.bin)');
  });
});
