// Runs the backend conformance suite against MemoryBackend and LocalBackend, plus local-only and helper tests.
// Must never touch anything outside its own temporary directories under os.tmpdir(), and must remove them.

import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackendError, NotFoundError, RepoError } from '../../src/core/errors.js';
import {
  type Handle,
  LocalBackend,
  MemoryBackend,
  TEMP_PREFIX,
  createBackend,
  handleToPath,
  isNotFound,
  mapFsError,
  openBackend,
  parseLocation,
} from '../../src/backend/index.js';
import { backendConformance, collect, idOf, idWithPrefix, listNames, randomId, rejection } from './conformance.js';

const tempDirs: string[] = [];

async function tempDir(): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), 'backend-test-'));
  tempDirs.push(d);
  return d;
}

afterAll(async () => {
  for (const d of tempDirs) await fs.rm(d, { recursive: true, force: true });
});

/** All files (relative, '/'-separated) under dir, recursively. */
async function walk(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...(await walk(dir, r)));
    else out.push(r);
  }
  return out;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

backendConformance('MemoryBackend', async () => {
  const backend = new MemoryBackend();
  await backend.create();
  return { backend };
});

backendConformance('LocalBackend', async () => {
  const base = await tempDir();
  const backend = await LocalBackend.createAt(path.join(base, 'repo'));
  return { backend, cleanup: () => fs.rm(base, { recursive: true, force: true }) };
});

describe('handleToPath', () => {
  it('maps handles to the layout', () => {
    const id = 'ab' + 'c'.repeat(62);
    expect(handleToPath({ type: 'config', name: 'config' })).toBe('config');
    expect(handleToPath({ type: 'keys', name: id })).toBe(`keys/${id}`);
    expect(handleToPath({ type: 'data', name: id })).toBe(`data/ab/${id}`);
    expect(handleToPath({ type: 'index', name: id })).toBe(`index/${id}`);
    expect(handleToPath({ type: 'snapshots', name: id })).toBe(`snapshots/${id}`);
    expect(handleToPath({ type: 'locks', name: id })).toBe(`locks/${id}`);
  });

  it('rejects escapes', () => {
    expect(() => handleToPath({ type: 'data', name: '../x' })).toThrow(/invalid data file name/);
  });
});

describe('isNotFound', () => {
  it('recognises NOT_FOUND only', () => {
    expect(isNotFound(new NotFoundError('x'))).toBe(true);
    expect(isNotFound(new RepoError('NOT_FOUND', 'x'))).toBe(true);
    expect(isNotFound(new BackendError('x'))).toBe(false);
    expect(isNotFound(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe(false);
    expect(isNotFound(undefined)).toBe(false);
  });
});

describe('MemoryBackend', () => {
  it('instances are independent and have distinct locations', async () => {
    const a = new MemoryBackend();
    const b = new MemoryBackend();
    expect(a.location).not.toBe(b.location);
    const h: Handle = { type: 'keys', name: randomId() };
    await a.save(h, Buffer.from('x'));
    expect(await b.exists(h)).toBe(false);
  });
});

describe('mapFsError', () => {
  const err = (code: string) => Object.assign(new Error(`${code}: synthetic, open '/secret/abs'`), { code });
  const file = 'data/ab/abcd';

  it('ENOENT → NotFoundError with the relative path', () => {
    const e = mapFsError(err('ENOENT'), file, 'load');
    expect(e).toBeInstanceOf(NotFoundError);
    expect(e.context.file).toBe(file);
    expect(e.message).toContain(file);
  });

  it('ENOSPC/EDQUOT → BackendError "disk full" naming the file', () => {
    for (const code of ['ENOSPC', 'EDQUOT']) {
      const e = mapFsError(err(code), file, 'save');
      expect(e).toBeInstanceOf(BackendError);
      expect(e.message).toMatch(/disk full/);
      expect(e.message).toContain(file);
      expect(e.context.file).toBe(file);
      expect(e.context.errno).toBe(code);
    }
  });

  it('EACCES/EPERM → BackendError "permission denied" naming the file', () => {
    for (const code of ['EACCES', 'EPERM']) {
      const e = mapFsError(err(code), file, 'load');
      expect(e).toBeInstanceOf(BackendError);
      expect(e.message).toMatch(/permission denied/);
      expect(e.message).toContain(file);
      expect(e.context.file).toBe(file);
    }
  });

  it('other errors → BackendError with cause', () => {
    const orig = err('EIO');
    const e = mapFsError(orig, file, 'load');
    expect(e).toBeInstanceOf(BackendError);
    expect(e.code).toBe('BACKEND');
    expect(e.cause).toBe(orig);
    expect(e.message).toContain(file);
  });

  it('non-Error values and RepoErrors', () => {
    expect(mapFsError('weird', file)).toBeInstanceOf(BackendError);
    const re = new RepoError('INTEGRITY', 'x');
    expect(mapFsError(re, file)).toBe(re);
  });

  it('AbortError → INTERRUPTED', () => {
    const abort = Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });
    expect(mapFsError(abort, file).code).toBe('INTERRUPTED');
  });
});

describe('LocalBackend', () => {
  let base: string;
  let dir: string;
  beforeEach(async () => {
    base = await tempDir();
    dir = path.join(base, 'repo');
  });
  afterEach(async () => {
    await fs.rm(base, { recursive: true, force: true });
  });

  describe('layout', () => {
    it('create() makes the layout with 256 data sub-directories', async () => {
      const b = await LocalBackend.createAt(dir);
      expect(b.location).toBe(path.resolve(dir));
      for (const t of ['keys', 'data', 'index', 'snapshots', 'locks']) {
        expect((await fs.stat(path.join(dir, t))).isDirectory()).toBe(true);
      }
      const subs = (await fs.readdir(path.join(dir, 'data'))).sort();
      expect(subs.length).toBe(256);
      expect(subs[0]).toBe('00');
      expect(subs[255]).toBe('ff');
      await expect(fs.access(path.join(dir, 'config'))).rejects.toThrow();
    });

    it('stores files at their layout paths', async () => {
      const b = await LocalBackend.createAt(dir);
      const id = idWithPrefix('3f');
      await b.save({ type: 'data', name: id }, Buffer.from('pack'));
      await b.save({ type: 'config', name: 'config' }, Buffer.from('cfg'));
      await b.save({ type: 'keys', name: id }, Buffer.from('key'));
      expect(await fs.readFile(path.join(dir, 'data', '3f', id), 'utf8')).toBe('pack');
      expect(await fs.readFile(path.join(dir, 'config'), 'utf8')).toBe('cfg');
      expect(await fs.readFile(path.join(dir, 'keys', id), 'utf8')).toBe('key');
    });

    it('files are 0600 and directories 0700 regardless of umask', async () => {
      let old: number | undefined;
      try {
        old = process.umask(0o277); // would give 0400 files and 0500 directories
      } catch {
        old = undefined; // umask cannot be changed here (worker thread); still check the modes
      }
      let b: LocalBackend;
      try {
        b = await LocalBackend.createAt(dir);
        await b.save({ type: 'config', name: 'config' }, Buffer.from('cfg'));
        for (const t of ['keys', 'index', 'snapshots', 'locks', 'data'] as const) {
          await b.save({ type: t, name: randomId() }, randomBytes(10));
        }
      } finally {
        if (old !== undefined) process.umask(old);
      }
      const mode = async (p: string) => (await fs.stat(p)).mode & 0o777;
      expect(await mode(dir)).toBe(0o700);
      for (const t of ['keys', 'data', 'index', 'snapshots', 'locks'])
        expect(await mode(path.join(dir, t))).toBe(0o700);
      for (const sub of await fs.readdir(path.join(dir, 'data'))) {
        expect(await mode(path.join(dir, 'data', sub))).toBe(0o700);
      }
      const files = await walk(dir);
      expect(files.length).toBe(6);
      for (const f of files) expect(await mode(path.join(dir, f)), f).toBe(0o600);
    });

    it('recreates a missing data sub-directory on save', async () => {
      const b = await LocalBackend.createAt(dir);
      await fs.rmdir(path.join(dir, 'data', 'c4'));
      const h: Handle = { type: 'data', name: idWithPrefix('c4') };
      await b.save(h, Buffer.from('x'));
      expect((await b.load(h)).toString()).toBe('x');
      expect((await fs.stat(path.join(dir, 'data', 'c4'))).mode & 0o777).toBe(0o700);
    });

    it('does not recreate a removed repository', async () => {
      const b = await LocalBackend.createAt(dir);
      await fs.rm(dir, { recursive: true });
      const err = await rejection(b.save({ type: 'keys', name: randomId() }, Buffer.from('x')));
      expect(err).toBeInstanceOf(NotFoundError);
      await expect(fs.access(dir)).rejects.toThrow();
      expect((await rejection(b.save({ type: 'config', name: 'config' }, Buffer.from('x')))).code).toBe('NOT_FOUND');
      await expect(fs.access(dir)).rejects.toThrow();
    });
  });

  describe('temporary files', () => {
    it('no temporary files are left after saves', async () => {
      const b = await LocalBackend.createAt(dir);
      await b.save({ type: 'config', name: 'config' }, Buffer.from('cfg'));
      await Promise.all(
        Array.from({ length: 20 }, () => b.save({ type: 'data', name: randomId() }, randomBytes(5000))),
      );
      await b.save({ type: 'index', name: randomId() }, Buffer.from('i'));
      const files = await walk(dir);
      expect(files.filter((f) => path.posix.basename(f).startsWith(TEMP_PREFIX))).toEqual([]);
      expect(files.length).toBe(22);
    });

    it('a failed save removes its temporary file and reports BackendError', async () => {
      const b = await LocalBackend.createAt(dir);
      const h: Handle = { type: 'keys', name: randomId() };
      // A non-empty directory in the way makes the final rename fail.
      await fs.mkdir(path.join(dir, 'keys', h.name));
      await fs.writeFile(path.join(dir, 'keys', h.name, 'x'), 'x');
      const err = await rejection(b.save(h, Buffer.from('data')));
      expect(err).toBeInstanceOf(BackendError);
      expect(err.context.file).toBe(`keys/${h.name}`);
      expect((await fs.readdir(path.join(dir, 'keys'))).filter((n) => n.startsWith(TEMP_PREFIX))).toEqual([]);
    });

    it('leftovers of a crashed writer and stray names are ignored by list', async () => {
      const b = await LocalBackend.createAt(dir);
      const good = idWithPrefix('ab');
      await b.save({ type: 'data', name: good }, Buffer.from('ok'));
      const key = randomId();
      await b.save({ type: 'keys', name: key }, Buffer.from('k'));
      // Crash leftovers and junk.
      await fs.writeFile(path.join(dir, 'data', 'ab', `${TEMP_PREFIX}${randomBytes(16).toString('hex')}`), 'partial');
      await fs.writeFile(path.join(dir, 'keys', `${TEMP_PREFIX}0123abcd`), 'partial');
      await fs.writeFile(path.join(dir, `${TEMP_PREFIX}feedface`), 'partial config');
      await fs.writeFile(path.join(dir, 'keys', 'README'), 'junk');
      await fs.writeFile(path.join(dir, 'keys', randomId().toUpperCase()), 'junk');
      await fs.mkdir(path.join(dir, 'index', randomId())); // a directory with an id name
      await fs.mkdir(path.join(dir, 'data', 'zz'));
      await fs.writeFile(path.join(dir, 'data', 'zz', randomId()), 'wrong subdir');
      await fs.writeFile(path.join(dir, 'data', '00', idWithPrefix('11')), 'wrong prefix');
      await fs.writeFile(path.join(dir, 'data', randomId()), 'not in a subdir');

      expect(await listNames(b, 'data')).toEqual([good]);
      expect(await listNames(b, 'keys')).toEqual([key]);
      expect(await listNames(b, 'index')).toEqual([]);
      expect(await listNames(b, 'config')).toEqual([]);
    });

    it('cleanupTemporaryFiles removes only old temporary files', async () => {
      const b = await LocalBackend.createAt(dir);
      const id = randomId();
      await b.save({ type: 'data', name: id }, Buffer.from('keep'));
      const old = [
        path.join(dir, 'data', 'ab', `${TEMP_PREFIX}aaaa`),
        path.join(dir, 'snapshots', `${TEMP_PREFIX}bbbb`),
        path.join(dir, `${TEMP_PREFIX}cccc`),
      ];
      const fresh = path.join(dir, 'data', 'cd', `${TEMP_PREFIX}dddd`);
      const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
      for (const f of old) {
        await fs.writeFile(f, 'x');
        await fs.utimes(f, twoHoursAgo, twoHoursAgo);
      }
      await fs.writeFile(fresh, 'x');
      const oldReal = path.join(dir, 'data', id.slice(0, 2), id);
      await fs.utimes(oldReal, twoHoursAgo, twoHoursAgo);

      expect(await b.cleanupTemporaryFiles()).toBe(3);
      for (const f of old) await expect(fs.access(f)).rejects.toThrow();
      await fs.access(fresh);
      expect((await b.load({ type: 'data', name: id })).toString()).toBe('keep');
      expect(await b.cleanupTemporaryFiles(0)).toBe(1);
      await expect(fs.access(fresh)).rejects.toThrow();
    });
  });

  describe('open and createAt', () => {
    it('open() of a missing directory is REPO_NOT_FOUND and creates nothing', async () => {
      const err = await rejection(LocalBackend.open(dir));
      expect(err.code).toBe('REPO_NOT_FOUND');
      await expect(fs.access(dir)).rejects.toThrow();
    });

    it('open() of a directory without config is NOT_A_REPOSITORY', async () => {
      await fs.mkdir(dir);
      await fs.writeFile(path.join(dir, 'something'), 'x');
      expect((await rejection(LocalBackend.open(dir))).code).toBe('NOT_A_REPOSITORY');
      expect(await fs.readdir(dir)).toEqual(['something']);
    });

    it('open() of a freshly created layout without config is NOT_A_REPOSITORY', async () => {
      await LocalBackend.createAt(dir);
      expect((await rejection(LocalBackend.open(dir))).code).toBe('NOT_A_REPOSITORY');
    });

    it('open() of a regular file is NOT_A_REPOSITORY', async () => {
      await fs.writeFile(dir, 'x');
      expect((await rejection(LocalBackend.open(dir))).code).toBe('NOT_A_REPOSITORY');
    });

    it('open() of a repository works', async () => {
      const c = await LocalBackend.createAt(dir);
      const h: Handle = { type: 'snapshots', name: randomId() };
      await c.save({ type: 'config', name: 'config' }, Buffer.from('cfg'));
      await c.save(h, Buffer.from('snap'));
      const b = await LocalBackend.open(dir);
      expect((await b.load(h)).toString()).toBe('snap');
      expect(await listNames(b, 'snapshots')).toEqual([h.name]);
    });

    it('createAt on a repository is REPO_EXISTS', async () => {
      const b = await LocalBackend.createAt(dir);
      await b.save({ type: 'config', name: 'config' }, Buffer.from('cfg'));
      expect((await rejection(LocalBackend.createAt(dir))).code).toBe('REPO_EXISTS');
      expect((await rejection(b.create())).code).toBe('REPO_EXISTS');
    });

    it('createAt on a non-empty directory is INVALID_ARGUMENT', async () => {
      await fs.mkdir(dir);
      await fs.writeFile(path.join(dir, 'photo.jpg'), 'x');
      expect((await rejection(LocalBackend.createAt(dir))).code).toBe('INVALID_ARGUMENT');
      expect(await fs.readdir(dir)).toEqual(['photo.jpg']);
    });

    it('createAt on a regular file is INVALID_ARGUMENT', async () => {
      await fs.writeFile(dir, 'x');
      expect((await rejection(LocalBackend.createAt(dir))).code).toBe('INVALID_ARGUMENT');
    });

    it('createAt on an existing empty directory works and sets 0700', async () => {
      await fs.mkdir(dir, { mode: 0o755 });
      await fs.chmod(dir, 0o755);
      await LocalBackend.createAt(dir);
      expect((await fs.stat(dir)).mode & 0o777).toBe(0o700);
      expect((await fs.readdir(path.join(dir, 'data'))).length).toBe(256);
    });

    it('createAt creates missing parent directories', async () => {
      const nested = path.join(base, 'a', 'b', 'repo');
      const b = await LocalBackend.createAt(nested);
      await b.save({ type: 'config', name: 'config' }, Buffer.from('c'));
      await LocalBackend.open(nested);
    });
  });

  describe('permissions', () => {
    it.skipIf(isRoot)('loading an unreadable file is BackendError "permission denied"', async () => {
      const b = await LocalBackend.createAt(dir);
      const h: Handle = { type: 'keys', name: randomId() };
      await b.save(h, Buffer.from('secret'));
      const file = path.join(dir, 'keys', h.name);
      await fs.chmod(file, 0);
      try {
        for (const p of [b.load(h), b.load(h, { offset: 0, length: 1 })]) {
          const err = await rejection(p);
          expect(err).toBeInstanceOf(BackendError);
          expect(err.message).toMatch(/permission denied/);
          expect(err.context.file).toBe(`keys/${h.name}`);
        }
      } finally {
        await fs.chmod(file, fsConstants.S_IRUSR | fsConstants.S_IWUSR);
      }
    });
  });

  describe('ranged load reads only the range', () => {
    it('works on a file larger than the range without reading it all', async () => {
      const b = await LocalBackend.createAt(dir);
      const data = randomBytes(4 * 1024 * 1024);
      const h: Handle = { type: 'data', name: idOf(data) };
      await b.save(h, data);
      const got = await b.load(h, { offset: 3 * 1024 * 1024, length: 10 });
      expect(got.equals(data.subarray(3 * 1024 * 1024, 3 * 1024 * 1024 + 10))).toBe(true);
      // The returned buffer owns exactly its bytes (not a view into a larger pool).
      expect(got.buffer.byteLength).toBe(10);
    });

    it('a file that shrank below the range is an error, not partial data', async () => {
      const b = await LocalBackend.createAt(dir);
      const h: Handle = { type: 'data', name: randomId() };
      await b.save(h, randomBytes(1000));
      await fs.truncate(path.join(dir, 'data', h.name.slice(0, 2), h.name), 500);
      const err = await rejection(b.load(h, { offset: 400, length: 200 }));
      expect(err.code).toBe('BACKEND');
    });
  });
});

describe('openBackend / createBackend / parseLocation', () => {
  let base: string;
  beforeEach(async () => {
    base = await tempDir();
  });

  it('parses plain paths and local:PATH', () => {
    expect(parseLocation('/srv/repo')).toEqual({ scheme: 'local', path: '/srv/repo' });
    expect(parseLocation('relative/repo')).toEqual({ scheme: 'local', path: 'relative/repo' });
    expect(parseLocation('local:/srv/repo')).toEqual({ scheme: 'local', path: '/srv/repo' });
    expect(parseLocation('./odd:name')).toEqual({ scheme: 'local', path: './odd:name' });
    expect(parseLocation('C:\\repo')).toEqual({ scheme: 'local', path: 'C:\\repo' });
  });

  it('rejects unknown schemes without echoing the rest of the location', () => {
    for (const loc of ['swift:user:hunter2@host:/srv', 'b2:user@host:/srv', 'azure:http://x']) {
      let caught: unknown;
      try {
        parseLocation(loc);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(RepoError);
      const err = caught as RepoError;
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toMatch(/unknown repository scheme/);
      expect(err.message).not.toContain('hunter2');
      expect(err.message).not.toContain('host');
    }
  });

  it('rejects empty locations', async () => {
    expect((await rejection(openBackend(''))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(openBackend('local:'))).code).toBe('INVALID_ARGUMENT');
  });

  it('createBackend then openBackend', async () => {
    const dir = path.join(base, 'repo');
    const c = await createBackend(`local:${dir}`);
    await c.save({ type: 'config', name: 'config' }, Buffer.from('cfg'));
    const b = await openBackend(dir);
    expect(b).toBeInstanceOf(LocalBackend);
    expect((await b.load({ type: 'config', name: 'config' })).toString()).toBe('cfg');
    expect((await collect(b.list('config'))).length).toBe(1);
  });

  it('openBackend of a missing path is REPO_NOT_FOUND', async () => {
    expect((await rejection(openBackend(path.join(base, 'nope')))).code).toBe('REPO_NOT_FOUND');
  });

  it('openBackend of an unknown scheme is INVALID_ARGUMENT', async () => {
    expect((await rejection(openBackend('gs:host:/x'))).code).toBe('INVALID_ARGUMENT');
  });

  it('rejects credentials in an s3: location without echoing them', () => {
    let caught: unknown;
    try {
      parseLocation('s3:https://user:hunter2@example.com/bucket');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(RepoError);
    expect((caught as RepoError).code).toBe('INVALID_ARGUMENT');
    expect((caught as RepoError).message).not.toContain('hunter2');
    expect((caught as RepoError).message).not.toContain('user');
  });
});
