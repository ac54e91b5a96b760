// Restorer tests: content, metadata, special files, filters, overwrite modes, verify, progress and damaged blobs.
// Snapshots are built by hand on a MemoryBackend; every test restores into its own temp directory.

import { existsSync, readFileSync } from 'node:fs';
import { lstat, readdir, readFile, readlink, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MemoryBackend } from '../../src/backend/memory.js';
import { IntegrityError, NotFoundError, isRepoError } from '../../src/core/errors.js';
import { idFromHex } from '../../src/core/id.js';
import type { Repository } from '../../src/repository/repository.js';
import { verifyFileContent } from '../../src/restorer/content.js';
import { restoreSnapshot, resolvePath, type RestoreProgress } from '../../src/restorer/index.js';
import { filePath, plannedFile, planRestore } from '../../src/restorer/plan.js';
import type { RestoreContext } from '../../src/restorer/types.js';
import type { StoredSnapshot } from '../../src/snapshot/snapshot.js';
import { rfc3339ToNs } from '../../src/tree/time.js';
import { ATIME, MTIME, bytes, dirNode, fileNode, newRepo, node, snapshotOf, tempDir } from './helpers.js';

const BIG = bytes(300_000, 1);
const SMALL = Buffer.from('hello, world\n');
const RAW_NAME = Buffer.from([0x66, 0xff, 0xfe]);
const isRoot = process.getuid?.() === 0;

let backend: MemoryBackend;
let repo: Repository;
let tmp: { dir: string; cleanup: () => Promise<void> };
let target: string;

beforeEach(async () => {
  ({ backend, repo } = await newRepo());
  tmp = await tempDir();
  target = join(tmp.dir, 'target');
});
afterEach(async () => {
  await tmp.cleanup();
});

/** docs/{big.bin (3 blobs), small.txt, empty, ro/ (0555, with inner.txt), link -> small.txt, hl1}, other/hl2, fifo, \x66\xff\xfe */
async function sampleSnapshot(): Promise<StoredSnapshot> {
  const hl = { links: 2, inode: '4242', deviceId: '77' };
  const ro = await dirNode(repo, 'ro', [await fileNode(repo, 'inner.txt', Buffer.from('inner'), { mode: 0o400 })], {
    mode: 0o555,
  });
  const docs = await dirNode(repo, 'docs', [
    await fileNode(repo, 'big.bin', BIG, { mode: 0o640 }, [100_000, 150_000]),
    await fileNode(repo, 'small.txt', SMALL, { mode: 0o600 }),
    await fileNode(repo, 'empty', Buffer.alloc(0)),
    ro,
    node('link', 'symlink', { linktarget: Buffer.from('small.txt') }),
    await fileNode(repo, 'hl1', Buffer.from('linked content'), hl),
    await fileNode(repo, RAW_NAME, Buffer.from('raw name')),
    await dirNode(repo, Buffer.from([0x64, 0xff]), [node(Buffer.from([0x70, 0xfe]), 'fifo', { mode: 0o620 })]),
  ]);
  const other = await dirNode(repo, 'other', [
    await fileNode(repo, 'hl2', Buffer.from('linked content'), hl),
    node('sock', 'socket'),
  ]);
  return snapshotOf(repo, [docs, other, node('fifo', 'fifo', { mode: 0o640 })]);
}

function expectTime(actualNs: bigint, rfc: string): void {
  const d = actualNs - rfc3339ToNs(rfc);
  expect(d > -1000n && d < 1000n, `time off by ${d} ns`).toBe(true);
}

describe('restoreSnapshot', () => {
  it('restores contents, types, names and metadata', async () => {
    const sn = await sampleSnapshot();
    const warnings: string[] = [];
    const r = await restoreSnapshot(repo, sn, { target, onWarning: (w) => warnings.push(`${w.path}: ${w.message}`) });
    expect(warnings).toEqual([]);
    expect(r).toMatchObject({ files: 6, dirs: 4, symlinks: 1, hardlinks: 1, specials: 2, warnings: 0 });
    expect(r.bytes).toBe(BIG.length + SMALL.length + 5 + 14 + 8);

    // Times to the microsecond, for files, symlinks, FIFOs and (post-order) directories; checked before
    // any read below, since reading a file updates its atime (relatime).
    for (const p of ['docs/big.bin', 'docs/empty', 'docs/link', 'docs/ro', 'docs', 'other', 'fifo']) {
      const st = await lstat(join(target, p), { bigint: true });
      expectTime(st.mtimeNs, MTIME);
      expectTime(st.atimeNs, ATIME);
    }

    const docs = join(target, 'docs');
    expect((await readFile(join(docs, 'big.bin'))).equals(BIG)).toBe(true);
    expect(await readFile(join(docs, 'small.txt'), 'utf8')).toBe('hello, world\n');
    expect((await stat(join(docs, 'empty'))).size).toBe(0);
    expect(await readFile(join(docs, 'ro', 'inner.txt'), 'utf8')).toBe('inner');
    expect(await readlink(join(docs, 'link'))).toBe('small.txt');
    expect((await lstat(join(target, 'fifo'))).isFIFO()).toBe(true);
    expect(existsSync(join(target, 'other', 'sock'))).toBe(false);

    // Hard links share the inode.
    const a = await stat(join(docs, 'hl1'));
    const b = await stat(join(target, 'other', 'hl2'));
    expect(a.ino).toBe(b.ino);
    expect(a.nlink).toBe(2);

    // Non-UTF-8 names round-trip byte for byte, including a FIFO inside a non-UTF-8 directory.
    const names = await readdir(Buffer.from(docs), { encoding: 'buffer' });
    expect(names.some((n) => n.equals(RAW_NAME))).toBe(true);
    const rawDir = Buffer.concat([Buffer.from(docs + '/'), Buffer.from([0x64, 0xff])]);
    expect((await readFile(Buffer.concat([Buffer.from(docs + '/'), RAW_NAME]))).toString()).toBe('raw name');
    const inRaw = await readdir(rawDir, { encoding: 'buffer' });
    expect(inRaw.map((n) => n.toString('hex'))).toEqual(['70fe']);
    const rawFifo = await lstat(Buffer.concat([rawDir, Buffer.from('/'), Buffer.from([0x70, 0xfe])]), { bigint: true });
    expect(rawFifo.isFIFO()).toBe(true);
    expect(Number(rawFifo.mode & 0o7777n)).toBe(0o620);
    expect(existsSync(join(target, '.restore-tmp'))).toBe(false);
    expect((await readdir(target)).sort()).toEqual(['docs', 'fifo', 'other']);

    // Modes, including a read-only directory restored with its contents.
    const mode = async (p: string) => (await lstat(p)).mode & 0o7777;
    expect(await mode(join(docs, 'big.bin'))).toBe(0o640);
    expect(await mode(join(docs, 'small.txt'))).toBe(0o600);
    expect(await mode(join(docs, 'ro'))).toBe(0o555);
    expect(await mode(join(docs, 'ro', 'inner.txt'))).toBe(0o400);
    expect(await mode(join(target, 'fifo'))).toBe(0o640);
  });

  it('restores device nodes as root, warns otherwise', async () => {
    const sn = await snapshotOf(repo, [node('null', 'chardev', { rdev: String((1 << 8) | 3), mode: 0o666 })]);
    const warnings: string[] = [];
    const r = await restoreSnapshot(repo, sn, { target, onWarning: (w) => warnings.push(w.message) });
    if (isRoot && r.specials === 1) {
      const st = await lstat(join(target, 'null'));
      expect(st.isCharacterDevice()).toBe(true);
      expect(st.rdev).toBe(259);
    } else {
      expect(warnings.length).toBe(1); // not root, or mknod not permitted in this container
    }
  });

  it.runIf(isRoot)('restores ownership when running as root', async () => {
    const sn = await snapshotOf(repo, [
      await dirNode(repo, 'd', [await fileNode(repo, 'f', SMALL, { uid: 1234, gid: 5678, mode: 0o4755 })], {
        uid: 4321,
        gid: 8765,
      }),
      node('l', 'symlink', { linktarget: Buffer.from('d/f'), uid: 1111, gid: 2222 }),
    ]);
    await restoreSnapshot(repo, sn, { target });
    const f = await lstat(join(target, 'd', 'f'));
    expect([f.uid, f.gid, f.mode & 0o7777]).toEqual([1234, 5678, 0o4755]); // setuid survives: chmod runs after chown
    const d = await lstat(join(target, 'd'));
    expect([d.uid, d.gid]).toEqual([4321, 8765]);
    const l = await lstat(join(target, 'l'));
    expect([l.uid, l.gid]).toEqual([1111, 2222]);
  });

  it('restores a path inside the snapshot (subPath)', async () => {
    const sn = await sampleSnapshot();
    await restoreSnapshot(repo, sn, { target, subPath: 'docs/ro' });
    expect(await readdir(target)).toEqual(['inner.txt']);
    const t2 = join(tmp.dir, 't2');
    await restoreSnapshot(repo, sn, { target: t2, subPath: Buffer.from('/docs/small.txt') });
    expect(await readdir(t2)).toEqual(['small.txt']);
    await expect(restoreSnapshot(repo, sn, { target, subPath: 'docs/nope' })).rejects.toBeInstanceOf(NotFoundError);
    await expect(restoreSnapshot(repo, sn, { target, subPath: 'docs/small.txt/x' })).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });

  it('resolvePath finds nodes and trees', async () => {
    const sn = await sampleSnapshot();
    expect(await resolvePath(repo, sn.tree, '')).toEqual({ node: undefined, treeId: sn.tree });
    const d = await resolvePath(repo, sn.tree, 'docs');
    expect(d.node?.type).toBe('dir');
    expect(d.treeId).toBe(d.node?.subtree);
    const f = await resolvePath(repo, sn.tree, Buffer.concat([Buffer.from('docs/'), RAW_NAME]));
    expect(f.node?.name.equals(RAW_NAME)).toBe(true);
    expect(f.treeId).toBeUndefined();
  });

  it('applies include and exclude to paths relative to the restore root', async () => {
    const sn = await sampleSnapshot();
    const seen: string[] = [];
    await restoreSnapshot(repo, sn, {
      target,
      include: (p) => (seen.push(p), p.endsWith('.txt')),
      exclude: (p) => p === 'docs/ro',
    });
    expect(seen).toContain('docs/big.bin');
    expect(seen).not.toContain('docs/ro/inner.txt');
    expect((await readdir(target)).sort()).toEqual(['docs']);
    expect((await readdir(join(target, 'docs'))).sort()).toEqual(['small.txt']);

    const t2 = join(tmp.dir, 't2');
    await restoreSnapshot(repo, sn, { target: t2, include: (p) => p === 'docs/ro' });
    expect(await readdir(join(t2, 'docs'))).toEqual(['ro']);
    expect(await readdir(join(t2, 'docs', 'ro'))).toEqual(['inner.txt']);
  });

  it('honours overwrite modes', async () => {
    const sn = await sampleSnapshot();
    await restoreSnapshot(repo, sn, { target });
    const small = join(target, 'docs', 'small.txt');
    const big = join(target, 'docs', 'big.bin');
    const mtime = Number(rfc3339ToNs(MTIME) / 1000n) / 1e6;
    // Same size and mtime, different bytes: 'if-changed' cannot tell and keeps it; a size change is rewritten.
    await writeFile(small, 'HELLO, WORLD\n');
    await utimes(small, mtime, mtime);
    await writeFile(big, 'short');
    let r = await restoreSnapshot(repo, sn, { target, overwrite: 'if-changed' });
    expect(await readFile(small, 'utf8')).toBe('HELLO, WORLD\n');
    expect((await readFile(big)).equals(BIG)).toBe(true);
    expect(r.skipped).toBeGreaterThan(0);

    await writeFile(big, 'short');
    await writeFile(join(target, 'unrelated'), 'keep me');
    r = await restoreSnapshot(repo, sn, { target, overwrite: 'never' });
    expect(await readFile(big, 'utf8')).toBe('short');
    expect(r.files).toBe(0);

    r = await restoreSnapshot(repo, sn, { target, overwrite: 'always' });
    expect(await readFile(small, 'utf8')).toBe('hello, world\n');
    expect((await readFile(big)).equals(BIG)).toBe(true);
    expect(await readFile(join(target, 'unrelated'), 'utf8')).toBe('keep me');
    expect(r.files).toBe(6);
  });

  it('verifies restored files, many in parallel', async () => {
    const many = await Promise.all(
      Array.from({ length: 40 }, (_, i) => fileNode(repo, `f${i}`, bytes(1000 + i * 997, i + 100), {}, [700])),
    );
    const sn = await snapshotOf(repo, [...many, await dirNode(repo, 'd', many.slice(0, 5))]);
    const r = await restoreSnapshot(repo, sn, { target, verify: true, concurrency: 8 });
    expect(r.verified).toBe(45);
    expect((await readFile(join(target, 'd', 'f3'))).equals(bytes(1000 + 3 * 997, 103))).toBe(true);
  });

  it('verify detects a restored file that differs from its blobs', async () => {
    const sn = await sampleSnapshot();
    await restoreSnapshot(repo, sn, { target });
    const ctx = {
      repo,
      opts: { target },
      overwrite: 'always',
      target: Buffer.from(target),
      isRoot,
      result: { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, specials: 0, bytes: 0, skipped: 0, warnings: 0 },
      progress: { filesTotal: 0, filesDone: 0, bytesTotal: 0, bytesDone: 0 },
      warn: () => undefined,
      reportProgress: () => undefined,
      checkAborted: () => undefined,
    } satisfies RestoreContext;
    const plan = await planRestore(ctx, sn.tree);
    const i = Array.from({ length: plan.files.count }, (_, k) => k).find((k) =>
      filePath(plan, k).toString().endsWith('/docs/big.bin'),
    )!;
    const f = plannedFile(plan, i);
    expect(f.pieces.map((p) => p.offset)).toEqual([0, 100_000, 250_000]);
    await verifyFileContent(ctx, f, f.path);
    const big = join(target, 'docs', 'big.bin');
    const buf = await readFile(big);
    buf[150_001] ^= 1;
    await writeFile(big, buf);
    const err = await verifyFileContent(ctx, f, f.path).catch((e) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect(err.message).toContain('big.bin');
    expect(err.message).toContain('offset 100000');
    await writeFile(big, buf.subarray(0, 10));
    await expect(verifyFileContent(ctx, f, f.path)).rejects.toBeInstanceOf(IntegrityError);
  });

  it('counts without writing in a dry run, and reports progress', async () => {
    const sn = await sampleSnapshot();
    const r = await restoreSnapshot(repo, sn, { target, dryRun: true });
    expect(existsSync(target)).toBe(false);
    expect(r).toMatchObject({ files: 6, hardlinks: 1, dirs: 4, symlinks: 1 });
    const reports: RestoreProgress[] = [];
    await restoreSnapshot(repo, sn, { target, concurrency: 2, onProgress: (p) => reports.push(p) });
    const last = reports[reports.length - 1];
    expect(last.filesDone).toBe(last.filesTotal);
    expect(last.filesTotal).toBe(7);
    expect(last.bytesDone).toBe(last.bytesTotal);
  });

  it('stops with INTERRUPTED when aborted', async () => {
    const sn = await sampleSnapshot();
    const ac = new AbortController();
    ac.abort();
    const err = await restoreSnapshot(repo, sn, { target, signal: ac.signal }).catch((e) => e);
    expect(isRepoError(err, 'INTERRUPTED')).toBe(true);
    expect(existsSync(target)).toBe(false);
  });

  it('stops between pieces when aborted mid-restore, removing the partial file', async () => {
    const sn = await sampleSnapshot();
    const ac = new AbortController();
    const err = await restoreSnapshot(repo, sn, {
      target,
      concurrency: 1,
      signal: ac.signal,
      onProgress: () => ac.abort(),
    }).catch((e) => e);
    expect(isRepoError(err, 'INTERRUPTED')).toBe(true);
    const big = join(target, 'docs', 'big.bin');
    if (existsSync(big)) expect((await readFile(big)).equals(BIG)).toBe(true);
  });

  it('fails on a damaged blob, naming pack and path, and removes the partial file', async () => {
    const data = bytes(200_000, 9);
    const f = await fileNode(repo, 'victim.bin', data, {}, [100_000]);
    const sn = await snapshotOf(repo, [f]);
    const loc = repo.index.lookup('data', idFromHex(f.content![1]))!;
    const h = { type: 'data' as const, name: loc.pack };
    const pack = await backend.load(h);
    pack[loc.offset + 50] ^= 1;
    await backend.save(h, pack);

    const err = await restoreSnapshot(repo, sn, { target }).catch((e) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect(err.context.pack).toBe(loc.pack);
    expect(err.context.blob).toBe(f.content![1]);
    expect(err.context.path).toContain('victim.bin');
    expect(err.message).toContain('victim.bin');
    expect(existsSync(join(target, 'victim.bin'))).toBe(false);
  });

  it('refuses a file whose blob is missing from the index, naming tree, node and blob, and restores the rest', async () => {
    const f = await fileNode(repo, 'f', SMALL);
    f.content = ['ab'.repeat(32)];
    const g = await fileNode(repo, 'g', SMALL);
    const sn = await snapshotOf(repo, [f, g]);
    const warnings: string[] = [];
    const r = await restoreSnapshot(repo, sn, { target, onWarning: (w) => warnings.push(`${w.path}: ${w.message}`) });
    expect(r.refused).toBe(1);
    expect(r.files).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('/f');
    expect(warnings[0]).toContain('ab'.repeat(32));
    expect(warnings[0]).toContain(`tree ${sn.tree}`);
    expect(existsSync(join(target, 'f'))).toBe(false);
    expect(readFileSync(join(target, 'g')).equals(SMALL)).toBe(true);
  });
});
