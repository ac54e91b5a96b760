// RetryBackend: conformance over MemoryBackend, and its retry policy against a scripted flaky backend.
// Must never sleep for real longer than a few milliseconds per retry (tests inject tiny delays).

import { describe, expect, it } from 'vitest';
import { BackendError, NotFoundError, RepoError } from '../../src/core/errors.js';
import {
  type Backend,
  type FileInfo,
  type FileType,
  type Handle,
  MemoryBackend,
  RetryBackend,
  type RetryInfo,
  type SaveData,
  TransientBackendError,
  isTransient,
  isTransientNetworkError,
} from '../../src/backend/index.js';
import { backendConformance, collect, randomId, rejection } from './conformance.js';

backendConformance('RetryBackend over MemoryBackend', async () => {
  const backend = new RetryBackend(new MemoryBackend(), { baseDelayMs: 1 });
  await backend.create();
  return { backend };
});

type Op = 'create' | 'save' | 'load' | 'stat' | 'exists' | 'list' | 'remove';

const slowDown = (): TransientBackendError =>
  new TransientBackendError('cannot save: Please reduce your request rate. (SlowDown, HTTP 503)', {
    status: 503,
    s3code: 'SlowDown',
  });

/** A MemoryBackend that fails scripted calls first; counts every call per method. */
class FlakyBackend implements Backend {
  readonly inner = new MemoryBackend();
  readonly location = 'flaky:test';
  readonly calls: Record<Op, number> = { create: 0, save: 0, load: 0, stat: 0, exists: 0, list: 0, remove: 0 };
  private readonly script: Partial<Record<Op, (() => unknown)[]>> = {};
  /** For list: after how many yielded entries the next scripted failure strikes (default: before the first). */
  listFailAfter = 0;

  /** The next n calls of op throw make(). */
  fail(op: Op, n: number, make: () => unknown = slowDown): this {
    const q = (this.script[op] ??= []);
    for (let i = 0; i < n; i++) q.push(make);
    return this;
  }

  private hit(op: Op): void {
    this.calls[op]++;
    const make = this.script[op]?.shift();
    if (make !== undefined) throw make();
  }

  async create(): Promise<void> {
    this.hit('create');
    return this.inner.create();
  }
  async save(h: Handle, data: SaveData, opts?: { signal?: AbortSignal }): Promise<void> {
    this.hit('save');
    return this.inner.save(h, data, opts);
  }
  async load(h: Handle, opts?: { offset?: number; length?: number; signal?: AbortSignal }): Promise<Buffer> {
    this.hit('load');
    return this.inner.load(h, opts);
  }
  async stat(h: Handle): Promise<FileInfo> {
    this.hit('stat');
    return this.inner.stat(h);
  }
  async exists(h: Handle): Promise<boolean> {
    this.hit('exists');
    return this.inner.exists(h);
  }
  async *list(type: FileType, opts?: { signal?: AbortSignal }): AsyncIterable<FileInfo> {
    this.calls.list++;
    const make = this.script.list?.shift();
    let n = 0;
    for await (const f of this.inner.list(type, opts)) {
      if (make !== undefined && n === this.listFailAfter) throw make();
      yield f;
      n++;
    }
    if (make !== undefined) throw make();
  }
  async remove(h: Handle): Promise<void> {
    this.hit('remove');
    return this.inner.remove(h);
  }
  async close(): Promise<void> {}
}

const handle = (type: FileType = 'data'): Handle => ({ type, name: randomId() });

describe('RetryBackend', () => {
  it('retries transient failures, then succeeds, reporting each retry', async () => {
    const flaky = new FlakyBackend().fail('save', 3).fail('load', 2).fail('stat', 1).fail('exists', 1);
    const infos: RetryInfo[] = [];
    const b = new RetryBackend(flaky, { baseDelayMs: 1, onRetry: (i) => infos.push(i) });
    const h = handle();
    await b.save(h, Buffer.from('payload'));
    expect(flaky.calls.save).toBe(4);
    expect(infos.map((i) => [i.op, i.attempt, i.maxAttempts])).toEqual([
      ['save', 1, 6],
      ['save', 2, 6],
      ['save', 3, 6],
    ]);
    expect(infos[0].file).toBe(`data/${h.name.slice(0, 2)}/${h.name}`);
    expect(infos[0].error).toBeInstanceOf(TransientBackendError);
    expect((await b.load(h)).toString()).toBe('payload');
    expect(flaky.calls.load).toBe(3);
    expect(await b.stat(h)).toEqual({ name: h.name, size: 7 });
    expect(await b.exists(h)).toBe(true);
    expect(infos.length).toBe(3 + 2 + 1 + 1);
  });

  it('retries raw network errors (connection reset, refused, socket hang up, timeouts)', async () => {
    const errs = [
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }),
      new Error('socket hang up'),
      Object.assign(new Error('timed out'), { name: 'TimeoutError' }),
      Object.assign(new Error('x'), { code: 'ETIMEDOUT' }),
    ];
    const flaky = new FlakyBackend();
    for (const e of errs) flaky.fail('save', 1, () => e);
    const b = new RetryBackend(flaky, { baseDelayMs: 1, attempts: 10 });
    await b.save(handle(), Buffer.from('x'));
    expect(flaky.calls.save).toBe(errs.length + 1);
  });

  it('never retries permanent errors', async () => {
    const cases: [Op, () => unknown, string][] = [
      ['load', () => new NotFoundError('data/xx not found', { file: 'data/xx' }), 'NOT_FOUND'],
      ['create', () => new RepoError('REPO_EXISTS', 'exists'), 'REPO_EXISTS'],
      ['save', () => new RepoError('INVALID_ARGUMENT', 'bad'), 'INVALID_ARGUMENT'],
      ['save', () => new RepoError('INTERRUPTED', 'aborted'), 'INTERRUPTED'],
      ['stat', () => new BackendError('access denied (AccessDenied, HTTP 403)'), 'BACKEND'],
      ['exists', () => new BackendError('disk full'), 'BACKEND'],
    ];
    for (const [op, make, code] of cases) {
      const flaky = new FlakyBackend().fail(op, 1, make);
      const onRetry = (): void => {
        throw new Error('must not retry');
      };
      const b = new RetryBackend(flaky, { baseDelayMs: 1, onRetry });
      const h = handle();
      const call: Record<Op, () => Promise<unknown>> = {
        create: () => b.create(),
        save: () => b.save(h, Buffer.from('x')),
        load: () => b.load(h),
        stat: () => b.stat(h),
        exists: () => b.exists(h),
        list: () => collect(b.list('data')),
        remove: () => b.remove(h),
      };
      const err = await rejection(call[op]());
      expect(err.code).toBe(code);
      expect(flaky.calls[op]).toBe(1);
    }
  });

  it('gives up after the configured attempts with a permanent BackendError', async () => {
    const flaky = new FlakyBackend().fail('save', 100);
    const b = new RetryBackend(flaky, { attempts: 4, baseDelayMs: 1 });
    const h = handle('keys');
    const err = await rejection(b.save(h, Buffer.from('x')));
    expect(flaky.calls.save).toBe(4);
    expect(err).toBeInstanceOf(BackendError);
    expect(err).not.toBeInstanceOf(TransientBackendError);
    expect(isTransient(err)).toBe(false); // an outer retry layer would not start over
    expect(err.message).toMatch(/gave up after 4 attempts/);
    expect(err.context.attempts).toBe(4);
    expect(err.context.status).toBe(503);
    expect(err.cause).toBeInstanceOf(TransientBackendError);
    expect(await b.exists(h)).toBe(false);
  });

  it('attempts: 1 disables retrying', async () => {
    const flaky = new FlakyBackend().fail('load', 5);
    const b = new RetryBackend(flaky, { attempts: 1 });
    const err = await rejection(b.load(handle()));
    expect(err).toBeInstanceOf(TransientBackendError);
    expect(flaky.calls.load).toBe(1);
  });

  it('backoff is full jitter below a capped exponential', () => {
    const top = new RetryBackend(new MemoryBackend(), { baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.999999 });
    expect([1, 2, 3, 4, 5, 6, 30].map((n) => top.backoffMs(n))).toEqual([99, 199, 399, 799, 999, 999, 999]);
    const bottom = new RetryBackend(new MemoryBackend(), { random: () => 0 });
    expect(bottom.backoffMs(3)).toBe(0);
    const def = new RetryBackend(new MemoryBackend(), { random: () => 0.999999 });
    expect(def.backoffMs(1)).toBe(199); // default base 200 ms
    expect(def.backoffMs(20)).toBe(9999); // default cap 10 s
  });

  it('an aborted signal stops before the first attempt', async () => {
    const flaky = new FlakyBackend();
    const b = new RetryBackend(flaky);
    const ac = new AbortController();
    ac.abort();
    expect((await rejection(b.save(handle(), Buffer.from('x'), { signal: ac.signal }))).code).toBe('INTERRUPTED');
    expect((await rejection(b.load(handle(), { signal: ac.signal }))).code).toBe('INTERRUPTED');
    expect((await rejection(collect(b.list('data', { signal: ac.signal })))).code).toBe('INTERRUPTED');
    expect(flaky.calls.save + flaky.calls.load + flaky.calls.list).toBe(0);
  });

  it('aborting during the backoff sleep ends the call at once with INTERRUPTED', async () => {
    const flaky = new FlakyBackend().fail('save', 100);
    const ac = new AbortController();
    const b = new RetryBackend(flaky, {
      baseDelayMs: 60_000,
      random: () => 0.9,
      onRetry: () => setTimeout(() => ac.abort(), 20),
    });
    const t0 = Date.now();
    const err = await rejection(b.save(handle(), Buffer.from('x'), { signal: ac.signal }));
    expect(err.code).toBe('INTERRUPTED');
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(flaky.calls.save).toBe(1);
  });

  it('a backend-wide signal interrupts calls that take no signal', async () => {
    const flaky = new FlakyBackend().fail('stat', 100).fail('remove', 100);
    const ac = new AbortController();
    const b = new RetryBackend(flaky, {
      baseDelayMs: 60_000,
      random: () => 0.9,
      signal: ac.signal,
      onRetry: () => ac.abort(),
    });
    expect((await rejection(b.stat(handle()))).code).toBe('INTERRUPTED');
    expect((await rejection(b.remove(handle()))).code).toBe('INTERRUPTED');
    expect(flaky.calls.stat).toBe(1);
    expect(flaky.calls.remove).toBe(0); // already aborted before its first attempt
  });

  it('a failing onRetry callback does not change the outcome', async () => {
    const flaky = new FlakyBackend().fail('save', 2);
    const b = new RetryBackend(flaky, {
      baseDelayMs: 1,
      onRetry: () => {
        throw new Error('reporter broke');
      },
    });
    await b.save(handle(), Buffer.from('x'));
    expect(flaky.calls.save).toBe(3);
  });

  it('list restarts after a transient failure and yields every name once', async () => {
    const flaky = new FlakyBackend();
    const names = Array.from({ length: 6 }, () => randomId()).sort();
    for (const n of names) await flaky.inner.save({ type: 'index', name: n }, Buffer.from(n));
    flaky.listFailAfter = 3;
    flaky.fail('list', 2);
    const infos: RetryInfo[] = [];
    const b = new RetryBackend(flaky, { baseDelayMs: 1, onRetry: (i) => infos.push(i) });
    const got = await collect(b.list('index'));
    expect(got.map((f) => f.name).sort()).toEqual(names);
    expect(got.length).toBe(names.length);
    expect(flaky.calls.list).toBe(3);
    expect(infos.every((i) => i.op === 'list' && i.file === 'index')).toBe(true);
  });

  it('list gives up when passes keep failing without progress', async () => {
    const flaky = new FlakyBackend().fail('list', 100);
    await flaky.inner.save({ type: 'index', name: randomId() }, Buffer.from('x'));
    const b = new RetryBackend(flaky, { baseDelayMs: 1, attempts: 3 });
    const err = await rejection(collect(b.list('index')));
    expect(err.message).toMatch(/gave up after 3 attempts/);
    expect(flaky.calls.list).toBe(3);
  });

  it('remove: NOT_FOUND after an attempt that may have deleted the file counts as success', async () => {
    const flaky = new FlakyBackend();
    const h = handle('locks');
    await flaky.inner.save(h, Buffer.from('lock'));
    // The first attempt deletes the file, but its reply is "lost".
    flaky.fail('remove', 1, () => {
      void flaky.inner.remove(h);
      return new TransientBackendError('cannot remove: socket hang up', {}, { mayHaveSucceeded: true });
    });
    const b = new RetryBackend(flaky, { baseDelayMs: 1 });
    await b.remove(h);
    expect(flaky.calls.remove).toBe(2);
    expect(await b.exists(h)).toBe(false);
  });

  it('remove: NOT_FOUND after a failure that cannot have deleted anything stays NOT_FOUND', async () => {
    const flaky = new FlakyBackend().fail('remove', 1); // mayHaveSucceeded false
    const b = new RetryBackend(flaky, { baseDelayMs: 1 });
    const err = await rejection(b.remove(handle('locks')));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(flaky.calls.remove).toBe(2);
  });

  it('run() applies the policy to any call', async () => {
    const b = new RetryBackend(new MemoryBackend(), { baseDelayMs: 1 });
    let n = 0;
    const v = await b.run('custom', undefined, async () => {
      if (++n < 3) throw slowDown();
      return 42;
    });
    expect(v).toBe(42);
    expect(n).toBe(3);
  });

  it('rejects nonsense options', () => {
    expect(() => new RetryBackend(new MemoryBackend(), { attempts: 0 })).toThrow(RepoError);
    expect(() => new RetryBackend(new MemoryBackend(), { baseDelayMs: -1 })).toThrow(RepoError);
    expect(() => new RetryBackend(new MemoryBackend(), { maxDelayMs: Infinity })).toThrow(RepoError);
  });

  it('forwards location and close', async () => {
    const inner = new MemoryBackend('x');
    const b = new RetryBackend(inner);
    expect(b.location).toBe('memory:x');
    await b.close();
  });
});

describe('isTransient', () => {
  it('classifies errors', () => {
    expect(isTransient(slowDown())).toBe(true);
    expect(isTransient(new BackendError('x'))).toBe(false);
    expect(isTransient(new NotFoundError('x'))).toBe(false);
    expect(isTransient(new RepoError('INTERRUPTED', 'x'))).toBe(false);
    expect(isTransient(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isTransient(new Error('boom'))).toBe(false);
    expect(isTransient(undefined)).toBe(false);
    expect(
      isTransientNetworkError(new Error('outer', { cause: Object.assign(new Error('i'), { code: 'EPIPE' }) })),
    ).toBe(true);
    expect(
      isTransientNetworkError(Object.assign(new Error('aborted'), { name: 'AbortError', code: 'ECONNRESET' })),
    ).toBe(false);
  });
});
