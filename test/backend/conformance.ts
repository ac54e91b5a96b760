// Backend conformance suite: registers one describe() block that any Backend implementation must pass.
// Must never depend on a particular implementation (no file-system peeking); implementation-specific tests live elsewhere.

import { createHash, randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackendError, NotFoundError, RepoError } from '../../src/core/errors.js';
import {
  type Backend,
  type FileInfo,
  type FileType,
  type Handle,
  handleToPath,
  isNotFound,
} from '../../src/backend/backend.js';

export interface ConformanceSetup {
  backend: Backend;
  /** Called after each test (after backend.close()). */
  cleanup?: () => Promise<void>;
}

/** A random 64-hex id. */
export function randomId(): string {
  return randomBytes(32).toString('hex');
}

/** The storage id of `data` (SHA-256 here; the suite only needs a valid, content-derived name). */
export function idOf(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** An id that starts with the given hex prefix. */
export function idWithPrefix(prefix: string): string {
  return prefix + randomId().slice(prefix.length);
}

export async function collect(it: AsyncIterable<FileInfo>): Promise<FileInfo[]> {
  const out: FileInfo[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export async function listNames(b: Backend, type: FileType): Promise<string[]> {
  return (await collect(b.list(type))).map((f) => f.name).sort();
}

/** Awaits p and returns the RepoError it rejects with (fails the test otherwise). */
export async function rejection(p: Promise<unknown>): Promise<RepoError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(RepoError);
    return err as RepoError;
  }
  throw new Error('expected the promise to reject');
}

export function backendConformance(name: string, setup: () => Promise<ConformanceSetup>): void {
  describe(`Backend conformance: ${name}`, () => {
    let b: Backend;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      const s = await setup();
      b = s.backend;
      cleanup = s.cleanup;
    });

    afterEach(async () => {
      await b.close();
      await b.close(); // idempotent
      await cleanup?.();
    });

    it('has a location', () => {
      expect(typeof b.location).toBe('string');
      expect(b.location.length).toBeGreaterThan(0);
    });

    describe('save/load round trip', () => {
      it('small data', async () => {
        const data = Buffer.from('hello, repository');
        const h: Handle = { type: 'keys', name: idOf(data) };
        await b.save(h, data);
        const got = await b.load(h);
        expect(Buffer.isBuffer(got)).toBe(true);
        expect(got.equals(data)).toBe(true);
      });

      it('0-byte data', async () => {
        const h: Handle = { type: 'snapshots', name: randomId() };
        await b.save(h, new Uint8Array(0));
        const got = await b.load(h);
        expect(got.length).toBe(0);
        expect((await b.stat(h)).size).toBe(0);
        expect(await b.exists(h)).toBe(true);
      });

      it('multi-MiB data', async () => {
        const data = randomBytes(5 * 1024 * 1024 + 123);
        const h: Handle = { type: 'data', name: idOf(data) };
        await b.save(h, data);
        const got = await b.load(h);
        expect(got.length).toBe(data.length);
        expect(got.equals(data)).toBe(true);
      });

      it('config', async () => {
        const h: Handle = { type: 'config', name: 'config' };
        await b.save(h, Buffer.from('cfg'));
        expect((await b.load(h)).toString()).toBe('cfg');
      });

      it('accepts a Uint8Array view with an offset into a larger buffer', async () => {
        const big = randomBytes(100);
        const view = new Uint8Array(big.buffer, big.byteOffset + 10, 50);
        const h: Handle = { type: 'index', name: randomId() };
        await b.save(h, view);
        expect((await b.load(h)).equals(big.subarray(10, 60))).toBe(true);
      });

      it('does not alias caller buffers', async () => {
        const data = Buffer.from('original');
        const h: Handle = { type: 'keys', name: randomId() };
        await b.save(h, data);
        data.fill(0);
        const first = await b.load(h);
        expect(first.toString()).toBe('original');
        first.fill(0);
        expect((await b.load(h)).toString()).toBe('original');
      });
    });

    describe('ranged load', () => {
      const data = randomBytes(1000);
      let h: Handle;
      beforeEach(async () => {
        h = { type: 'data', name: idOf(data) };
        await b.save(h, data);
      });

      it('offset and length', async () => {
        expect((await b.load(h, { offset: 10, length: 20 })).equals(data.subarray(10, 30))).toBe(true);
      });

      it('offset only reads to the end', async () => {
        expect((await b.load(h, { offset: 900 })).equals(data.subarray(900))).toBe(true);
      });

      it('length only reads from the start', async () => {
        expect((await b.load(h, { length: 7 })).equals(data.subarray(0, 7))).toBe(true);
      });

      it('the whole file as a range', async () => {
        expect((await b.load(h, { offset: 0, length: 1000 })).equals(data)).toBe(true);
      });

      it('last byte', async () => {
        expect((await b.load(h, { offset: 999, length: 1 })).equals(data.subarray(999))).toBe(true);
      });

      it('offset at end with length 0 or no length is empty', async () => {
        expect((await b.load(h, { offset: 1000, length: 0 })).length).toBe(0);
        expect((await b.load(h, { offset: 1000 })).length).toBe(0);
      });

      it('length 0 in the middle is empty', async () => {
        expect((await b.load(h, { offset: 500, length: 0 })).length).toBe(0);
      });

      it('a range past the end is a BackendError, not partial data', async () => {
        for (const opts of [
          { offset: 990, length: 11 },
          { offset: 0, length: 1001 },
          { offset: 1001 },
          { offset: 1001, length: 0 },
          { offset: 5000, length: 1 },
        ]) {
          const err = await rejection(b.load(h, opts));
          expect(err).toBeInstanceOf(BackendError);
          expect(err.code).toBe('BACKEND');
          expect(err.context.file).toBe(handleToPath(h));
        }
      });

      it('malformed offsets and lengths are INVALID_ARGUMENT', async () => {
        for (const opts of [
          { offset: -1 },
          { length: -1 },
          { offset: 1.5 },
          { length: Number.NaN },
          { offset: Infinity },
        ]) {
          expect((await rejection(b.load(h, opts))).code).toBe('INVALID_ARGUMENT');
        }
      });

      it('ranges in a multi-MiB file', async () => {
        const big = randomBytes(3 * 1024 * 1024);
        const hb: Handle = { type: 'data', name: idOf(big) };
        await b.save(hb, big);
        const off = 1024 * 1024 + 17;
        const len = 1024 * 1024 + 5;
        expect((await b.load(hb, { offset: off, length: len })).equals(big.subarray(off, off + len))).toBe(true);
        expect((await b.load(hb, { offset: big.length - 3 })).equals(big.subarray(big.length - 3))).toBe(true);
      });

      it('a range of a missing file is NotFoundError', async () => {
        const err = await rejection(b.load({ type: 'data', name: randomId() }, { offset: 0, length: 1 }));
        expect(err).toBeInstanceOf(NotFoundError);
      });
    });

    describe('stat and exists', () => {
      it('stat reports the size and name', async () => {
        const data = randomBytes(4321);
        const h: Handle = { type: 'index', name: idOf(data) };
        await b.save(h, data);
        expect(await b.stat(h)).toEqual({ name: h.name, size: 4321 });
      });

      it('exists', async () => {
        const h: Handle = { type: 'locks', name: randomId() };
        expect(await b.exists(h)).toBe(false);
        await b.save(h, Buffer.from('x'));
        expect(await b.exists(h)).toBe(true);
        // Same name, other type: a different file.
        expect(await b.exists({ type: 'keys', name: h.name })).toBe(false);
      });
    });

    describe('list', () => {
      it('returns exactly the saved names per type', async () => {
        const saved: Record<FileType, Map<string, number>> = {
          config: new Map(),
          keys: new Map(),
          data: new Map(),
          index: new Map(),
          snapshots: new Map(),
          locks: new Map(),
        };
        const put = async (type: FileType, name: string, size: number) => {
          await b.save({ type, name }, randomBytes(size));
          saved[type].set(name, size);
        };
        await put('config', 'config', 11);
        for (let i = 0; i < 3; i++) await put('keys', randomId(), 100 + i);
        // Several data files, two sharing a sub-directory, spread over different prefixes.
        for (const prefix of ['00', 'ab', 'ab', 'ff', '7c']) await put('data', idWithPrefix(prefix), 200);
        for (let i = 0; i < 2; i++) await put('index', randomId(), 50);
        await put('snapshots', randomId(), 0);

        for (const type of ['config', 'keys', 'data', 'index', 'snapshots', 'locks'] as FileType[]) {
          const got = await collect(b.list(type));
          expect(got.map((f) => f.name).sort()).toEqual([...saved[type].keys()].sort());
          for (const f of got) expect(f.size).toBe(saved[type].get(f.name));
        }
      });

      it('is empty for an empty repository', async () => {
        for (const type of ['config', 'keys', 'data', 'index', 'snapshots', 'locks'] as FileType[]) {
          expect(await listNames(b, type)).toEqual([]);
        }
      });

      it('lists an overwritten file once', async () => {
        const h: Handle = { type: 'data', name: randomId() };
        await b.save(h, Buffer.from('a'));
        await b.save(h, Buffer.from('a'));
        expect(await listNames(b, 'data')).toEqual([h.name]);
      });

      it('rejects an unknown type', async () => {
        const err = await rejection(collect(b.list('bogus' as FileType)));
        expect(err.code).toBe('INVALID_ARGUMENT');
      });
    });

    describe('remove', () => {
      it('removes a file', async () => {
        const h: Handle = { type: 'data', name: randomId() };
        const other: Handle = { type: 'data', name: randomId() };
        await b.save(h, Buffer.from('gone'));
        await b.save(other, Buffer.from('stays'));
        await b.remove(h);
        expect(await b.exists(h)).toBe(false);
        expect(await listNames(b, 'data')).toEqual([other.name]);
        expect(isNotFound(await rejection(b.load(h)))).toBe(true);
        expect((await b.load(other)).toString()).toBe('stays');
      });

      it('removing a missing file is NotFoundError', async () => {
        const h: Handle = { type: 'locks', name: randomId() };
        const err = await rejection(b.remove(h));
        expect(err).toBeInstanceOf(NotFoundError);
        expect(err.context.file).toBe(`locks/${h.name}`);
      });

      it('a removed file can be saved again', async () => {
        const h: Handle = { type: 'snapshots', name: randomId() };
        await b.save(h, Buffer.from('1'));
        await b.remove(h);
        await b.save(h, Buffer.from('1'));
        expect((await b.load(h)).toString()).toBe('1');
      });
    });

    describe('missing files', () => {
      it('load, stat and remove throw NotFoundError naming the file', async () => {
        for (const h of [
          { type: 'data', name: randomId() },
          { type: 'keys', name: randomId() },
          { type: 'config', name: 'config' },
        ] as Handle[]) {
          // One call at a time: a promise created early could reject before anyone awaits it.
          for (const call of [() => b.load(h), () => b.stat(h), () => b.remove(h)]) {
            const err = await rejection(call());
            expect(err).toBeInstanceOf(NotFoundError);
            expect(err.code).toBe('NOT_FOUND');
            expect(isNotFound(err)).toBe(true);
            expect(err.context.file).toBe(handleToPath(h));
          }
        }
      });
    });

    describe('overwrite', () => {
      it('saving identical content again is allowed', async () => {
        const data = randomBytes(2000);
        const h: Handle = { type: 'data', name: idOf(data) };
        await b.save(h, data);
        await b.save(h, data);
        expect((await b.load(h)).equals(data)).toBe(true);
        expect((await b.stat(h)).size).toBe(2000);
      });

      it('the last save wins', async () => {
        const h: Handle = { type: 'config', name: 'config' };
        await b.save(h, Buffer.from('first version, longer'));
        await b.save(h, Buffer.from('second'));
        expect((await b.load(h)).toString()).toBe('second');
      });
    });

    describe('handle validation', () => {
      const bad: Handle[] = [
        { type: 'data', name: '../x' },
        { type: 'data', name: '../../../../etc/passwd' },
        { type: 'data', name: 'ABC' },
        { type: 'data', name: 'AB' + randomId().slice(2).toUpperCase() },
        { type: 'data', name: 'config' },
        { type: 'data', name: '' },
        { type: 'data', name: randomId().slice(1) },
        { type: 'data', name: randomId() + '0' },
        { type: 'data', name: randomId().slice(0, 63) + 'g' },
        { type: 'keys', name: `ab/${randomId().slice(3)}` },
        { type: 'keys', name: '.tmp-0123' },
        { type: 'index', name: randomId() + '\0' },
        { type: 'config', name: randomId() },
        { type: 'config', name: '../config' },
        { type: 'bogus' as FileType, name: randomId() },
        { type: '..' as FileType, name: randomId() },
      ];

      it('rejects invalid handles in every method, touching nothing', async () => {
        for (const h of bad) {
          expect(() => handleToPath(h)).toThrow(RepoError);
          const calls: (() => Promise<unknown>)[] = [
            () => b.save(h, Buffer.from('x')),
            () => b.load(h),
            () => b.load(h, { offset: 0, length: 1 }),
            () => b.stat(h),
            () => b.exists(h),
            () => b.remove(h),
          ];
          for (const call of calls) {
            const err = await rejection(call());
            expect(err.code, JSON.stringify(h)).toBe('INVALID_ARGUMENT');
          }
        }
        for (const type of ['config', 'keys', 'data', 'index', 'snapshots', 'locks'] as FileType[]) {
          expect(await listNames(b, type)).toEqual([]);
        }
      });
    });

    describe('concurrency', () => {
      it('50 concurrent saves all land intact', async () => {
        const blobs = Array.from({ length: 50 }, (_, i) => randomBytes(1000 + i * 997));
        const handles = blobs.map((d): Handle => ({ type: 'data', name: idOf(d) }));
        await Promise.all(blobs.map((d, i) => b.save(handles[i], d)));
        expect(await listNames(b, 'data')).toEqual(handles.map((h) => h.name).sort());
        const loaded = await Promise.all(handles.map((h) => b.load(h)));
        loaded.forEach((d, i) => expect(d.equals(blobs[i])).toBe(true));
      });

      it('concurrent saves of the same handle with identical content', async () => {
        const data = randomBytes(100_000);
        const h: Handle = { type: 'data', name: idOf(data) };
        await Promise.all(Array.from({ length: 10 }, () => b.save(h, data)));
        expect((await b.load(h)).equals(data)).toBe(true);
        expect(await listNames(b, 'data')).toEqual([h.name]);
      });
    });

    describe('abort', () => {
      it('an already-aborted signal makes save, load and list throw INTERRUPTED', async () => {
        const ac = new AbortController();
        ac.abort();
        const h: Handle = { type: 'data', name: randomId() };
        expect((await rejection(b.save(h, Buffer.from('x'), { signal: ac.signal }))).code).toBe('INTERRUPTED');
        expect(await b.exists(h)).toBe(false);

        await b.save(h, Buffer.from('present'));
        expect((await rejection(b.load(h, { signal: ac.signal }))).code).toBe('INTERRUPTED');
        expect((await rejection(b.load(h, { offset: 1, length: 2, signal: ac.signal }))).code).toBe('INTERRUPTED');
        expect((await rejection(collect(b.list('data', { signal: ac.signal })))).code).toBe('INTERRUPTED');
        // Nothing changed.
        expect((await b.load(h)).toString()).toBe('present');
      });

      it('an aborted save never leaves a partial file', async () => {
        const ac = new AbortController();
        const data = randomBytes(20 * 1024 * 1024);
        const h: Handle = { type: 'data', name: idOf(data) };
        const p = b.save(h, data, { signal: ac.signal });
        ac.abort();
        try {
          await p;
          expect((await b.load(h)).equals(data)).toBe(true); // completed before noticing: whole file
        } catch (err) {
          expect((err as RepoError).code).toBe('INTERRUPTED');
          expect(await b.exists(h)).toBe(false);
        }
      });
    });

    describe('uploads piece by piece (where offered)', () => {
      it('commit makes the written bytes visible under the name at once; abort leaves nothing', async () => {
        if (b.beginUpload === undefined) return;
        const parts = [randomBytes(1000), randomBytes(3 * 1024 * 1024), Buffer.alloc(0), randomBytes(1)];
        const up = await b.beginUpload('data');
        for (const p of parts) await up.write(p);
        expect(await listNames(b, 'data')).toEqual([]);
        const name = randomId();
        await up.commit({ type: 'data', name });
        expect((await b.load({ type: 'data', name })).equals(Buffer.concat(parts))).toBe(true);
        expect(await listNames(b, 'data')).toEqual([name]);
        await expect(up.write(Buffer.from('late'))).rejects.toThrow();

        const dropped = await b.beginUpload('data');
        await dropped.write(randomBytes(100));
        await dropped.abort();
        await dropped.abort(); // idempotent
        expect(await listNames(b, 'data')).toEqual([name]);
      });

      it('an upload commits only under a handle of its own type', async () => {
        if (b.beginUpload === undefined) return;
        const up = await b.beginUpload('data');
        await up.write(Buffer.from('x'));
        const err = await rejection(up.commit({ type: 'index', name: randomId() }));
        expect(err.code).toBe('INVALID_ARGUMENT');
        expect(await listNames(b, 'index')).toEqual([]);
      });
    });

    describe('create', () => {
      it('create() on a repository with a config is REPO_EXISTS', async () => {
        await b.save({ type: 'config', name: 'config' }, Buffer.from('cfg'));
        const err = await rejection(b.create());
        expect(err.code).toBe('REPO_EXISTS');
        expect((await b.load({ type: 'config', name: 'config' })).toString()).toBe('cfg');
      });

      it('create() without a config is allowed again (idempotent layout)', async () => {
        await b.create();
        await b.save({ type: 'data', name: randomId() }, Buffer.from('x'));
        expect((await listNames(b, 'data')).length).toBe(1);
      });
    });
  });
}
