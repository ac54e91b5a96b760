// S3Backend against a real S3-compatible server (s3rver) on loopback: the conformance suite, the S3
// specifics (plain payloads, ranges, pagination, headers, limits), open/create, and crash-and-retry.
// Must never talk to anything but the s3rver processes it starts on 127.0.0.1, and must stop them.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BackendError, NotFoundError, RepoError } from '../../src/core/errors.js';
import {
  type Backend,
  type Handle,
  type OpenOptions,
  RetryBackend,
  type RetryInfo,
  TransientBackendError,
  createBackend,
  handleToPath,
  openBackend,
  parseS3Location,
  s3ConfigFor,
} from '../../src/backend/index.js';
import { S3Backend } from '../../src/backend/s3.js';
import { type S3TestServer, startS3Server } from '../helpers/s3server.js';
import { backendConformance, collect, idOf, idWithPrefix, listNames, randomId, rejection } from './conformance.js';

let serverPromise: Promise<S3TestServer> | undefined;
/** One s3rver for the whole file (each test uses its own prefix), started on first use. */
function server(): Promise<S3TestServer> {
  serverPromise ??= startS3Server({ bucket: 'conformance' });
  return serverPromise;
}

const opened: Backend[] = [];
afterAll(async () => {
  for (const b of opened) await b.close();
  if (serverPromise !== undefined) await (await serverPromise).stop();
});

function prefix(): string {
  return `t-${randomId().slice(0, 16)}`;
}

/** Options for openBackend/createBackend against `srv`: its credentials, fast retries, no ambient env. */
function openOpts(srv: S3TestServer, extra: OpenOptions = {}): OpenOptions {
  return {
    env: {},
    ...extra,
    s3: { credentials: { ...srv.credentials }, ...extra.s3 },
    retry: { baseDelayMs: 5, ...extra.retry },
  };
}

/** A raw S3Backend (no retry wrapper) on a fresh prefix. */
async function rawBackend(
  srv: S3TestServer,
  extra: Partial<ConstructorParameters<typeof S3Backend>[0]> = {},
): Promise<S3Backend> {
  const loc = parseS3Location(`${srv.endpoint}/${srv.bucket}/${prefix()}`);
  const b = new S3Backend({ ...s3ConfigFor(loc, { credentials: { ...srv.credentials } }, {}), ...extra });
  opened.push(b);
  await b.create();
  return b;
}

/** Records every request the SDK sends through b.client: command name and headers. */
function recordRequests(b: S3Backend): { command: string; method: string; headers: Record<string, string> }[] {
  const seen: { command: string; method: string; headers: Record<string, string> }[] = [];
  b.client.middlewareStack.add(
    (next, context) => async (args) => {
      const req = args.request as { method?: string; headers?: Record<string, string> };
      seen.push({ command: String(context.commandName), method: req.method ?? '', headers: { ...req.headers } });
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'testRecorder' },
  );
  return seen;
}

// The full stack as the CLI gets it: S3Backend → RetryBackend, via createBackend.
backendConformance('S3 (createBackend: S3Backend → RetryBackend) on s3rver', async () => {
  const srv = await server();
  const retries: RetryInfo[] = [];
  const backend = await createBackend(
    `s3:${srv.endpoint}/${srv.bucket}/${prefix()}`,
    openOpts(srv, { retry: { onRetry: (i) => retries.push(i) } }),
  );
  expect(backend).toBeInstanceOf(RetryBackend);
  return {
    backend,
    // A healthy local server never needs a retry; one would hide a bug in S3Backend.
    cleanup: async () => expect(retries).toEqual([]),
  };
});

describe('S3Backend on s3rver', () => {
  let srv: S3TestServer;
  beforeAll(async () => {
    srv = await server();
  });

  it('stores exactly the bytes sent: plain payload, no aws-chunked framing, Content-MD5 set', async () => {
    const b = await rawBackend(srv);
    const seen = recordRequests(b);
    const data = randomBytes(1024 * 1024 + 3);
    const h: Handle = { type: 'data', name: idOf(data) };
    await b.save(h, data);
    const parts = [randomBytes(1000), randomBytes(7), randomBytes(0), randomBytes(5000)];
    const joined = Buffer.concat(parts);
    const hp: Handle = { type: 'index', name: idOf(joined) };
    await b.save(hp, parts);
    const empty: Handle = { type: 'snapshots', name: randomId() };
    await b.save(empty, new Uint8Array(0));

    // What the server wrote to its disk, byte for byte.
    expect((await fs.readFile(srv.objectFile(`${b.prefix}/${handleToPath(h)}`))).equals(data)).toBe(true);
    expect((await fs.readFile(srv.objectFile(`${b.prefix}/${handleToPath(hp)}`))).equals(joined)).toBe(true);
    expect((await fs.readFile(srv.objectFile(`${b.prefix}/${handleToPath(empty)}`))).length).toBe(0);
    expect((await b.load(h)).equals(data)).toBe(true);
    expect((await b.load(hp)).equals(joined)).toBe(true);

    const puts = seen.filter((r) => r.command === 'PutObjectCommand');
    expect(puts.length).toBe(3);
    for (const p of puts) {
      const hdr = Object.fromEntries(Object.entries(p.headers).map(([k, v]) => [k.toLowerCase(), v]));
      expect(hdr['content-encoding'] ?? '').not.toMatch(/aws-chunked/);
      expect(hdr['x-amz-content-sha256'] ?? '').not.toMatch(/STREAMING/);
      expect(hdr['x-amz-decoded-content-length']).toBeUndefined();
      expect(hdr['content-md5']).toMatch(/^[A-Za-z0-9+/]{22}==$/);
      expect(Object.keys(hdr).some((k) => k.startsWith('x-amz-checksum-'))).toBe(false);
    }
  });

  it('ranged reads: s3rver answers "bytes=0-0" with the whole object, load still returns one byte', async () => {
    const b = await rawBackend(srv);
    const data = randomBytes(1000);
    const h: Handle = { type: 'data', name: idOf(data) };
    await b.save(h, data);
    // The quirk itself, seen through the raw client.
    const raw = await b.client.send(
      new GetObjectCommand({ Bucket: b.bucket, Key: `${b.prefix}/${handleToPath(h)}`, Range: 'bytes=0-0' }),
    );
    expect(raw.ContentRange).toBe('bytes 0-999/1000');
    expect((await raw.Body!.transformToByteArray()).length).toBe(1000);
    // The backend trims to what was asked (the start offset is verified from Content-Range).
    const one = await b.load(h, { offset: 0, length: 1 });
    expect(one.equals(data.subarray(0, 1))).toBe(true);
    expect((await b.load(h, { offset: 999, length: 1 })).equals(data.subarray(999))).toBe(true);
    expect((await b.load(h, { offset: 1 })).equals(data.subarray(1))).toBe(true);
    // A range that starts inside but ends beyond: S3 cuts it; the backend refuses partial data.
    const err = await rejection(b.load(h, { offset: 500, length: 501 }));
    expect(err).toBeInstanceOf(BackendError);
    expect(err).not.toBeInstanceOf(TransientBackendError);
    expect(err.context.size).toBe(1000);
    // A 0-byte object read from offset 0 without a length.
    const e: Handle = { type: 'data', name: randomId() };
    await b.save(e, new Uint8Array(0));
    expect((await b.load(e, { offset: 0 })).length).toBe(0);
    expect((await b.load(e, { offset: 0, length: 0 })).length).toBe(0);
    expect((await rejection(b.load(e, { offset: 1 }))).code).toBe('BACKEND');
  });

  it('HEAD of a missing key is NotFoundError with the layout path; a missing bucket is a BackendError', async () => {
    const b = await rawBackend(srv);
    const h: Handle = { type: 'index', name: randomId() };
    const err = await rejection(b.stat(h));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.context.file).toBe(`index/${h.name}`);
    expect(await b.exists(h)).toBe(false);

    const loc = parseS3Location(`${srv.endpoint}/no-such-bucket-${randomId().slice(0, 8)}/p`);
    const nb = new S3Backend({ ...s3ConfigFor(loc, { credentials: { ...srv.credentials }, createBucket: false }, {}) });
    opened.push(nb);
    expect(await nb.exists(h)).toBe(false);
    expect(await nb.bucketExists()).toBe(false);
    const lerr = await rejection(nb.load(h));
    expect(lerr.code).toBe('BACKEND');
    expect(lerr.message).toMatch(/bucket does not exist/);
    expect((await rejection(collect(nb.list('keys')))).code).toBe('BACKEND');
  });

  it('list pages through ListObjectsV2 (MaxKeys 3) and ignores foreign keys', async () => {
    const b = await rawBackend(srv, { listPageSize: 3 });
    const seen = recordRequests(b);
    const keys = Array.from({ length: 10 }, () => randomId());
    for (const k of keys) await b.save({ type: 'keys', name: k }, Buffer.from(k));
    const data = ['00', 'ab', 'ab', 'ff', '7c', '12', '34'].map((p) => idWithPrefix(p));
    for (const d of data) await b.save({ type: 'data', name: d }, Buffer.from('d'));
    // Junk that is not a valid layout entry, written behind the backend's back.
    const junk = [
      `keys/${randomId().toUpperCase()}`,
      'keys/README',
      `keys/.tmp-${randomId()}`,
      `data/${randomId()}`,
      `data/zz/${randomId()}`,
      `data/00/${idWithPrefix('11')}`,
      `keys/x/${randomId()}`,
    ];
    for (const j of junk)
      await b.client.send(
        new PutObjectCommand({ Bucket: b.bucket, Key: `${b.prefix}/${j}`, Body: Buffer.from('j'), ContentLength: 1 }),
      );

    expect(await listNames(b, 'keys')).toEqual([...keys].sort());
    expect(await listNames(b, 'data')).toEqual([...data].sort());
    const lists = seen.filter((r) => r.command === 'ListObjectsV2Command');
    expect(lists.length).toBeGreaterThanOrEqual(Math.ceil((10 + 4) / 3) + Math.ceil((7 + 3) / 3));
    // Sizes come from the listing.
    expect((await collect(b.list('keys'))).every((f) => f.size === 64)).toBe(true);
  });

  it('list holds no connection slot while the caller works on a page', async () => {
    const b = await rawBackend(srv, { connections: 1, listPageSize: 2 });
    const names = Array.from({ length: 5 }, () => randomId());
    for (const n of names) await b.save({ type: 'index', name: n }, Buffer.from('i'));
    const got: string[] = [];
    for await (const f of b.list('index')) {
      got.push((await b.load({ type: 'index', name: f.name })).toString()); // would deadlock if list held the slot
    }
    expect(got).toEqual(names.map(() => 'i'));
  });

  it('multipart upload above the threshold stores the exact bytes', async () => {
    const mib = 1024 * 1024;
    const b = await rawBackend(srv, { multipartThresholdBytes: 6 * mib, partSizeBytes: 5 * mib });
    const seen = recordRequests(b);
    const data = randomBytes(12 * mib + 5);
    const h: Handle = { type: 'data', name: idOf(data) };
    await b.save(h, data);
    expect(seen.filter((r) => r.command === 'UploadPartCommand').length).toBe(3);
    expect(seen.some((r) => r.command === 'PutObjectCommand')).toBe(false);
    expect((await b.stat(h)).size).toBe(data.length);
    expect((await b.load(h)).equals(data)).toBe(true);
    expect((await fs.readFile(srv.objectFile(`${b.prefix}/${handleToPath(h)}`))).equals(data)).toBe(true);
    const off = 5 * mib - 10;
    expect((await b.load(h, { offset: off, length: 20 })).equals(data.subarray(off, off + 20))).toBe(true);
  });

  it('storage class goes on data packs only; SSE on every object', async () => {
    const b = await rawBackend(srv, { storageClass: 'STANDARD_IA', sse: 'AES256' });
    const seen = recordRequests(b);
    const d: Handle = { type: 'data', name: randomId() };
    const i: Handle = { type: 'index', name: randomId() };
    await b.save(d, Buffer.from('pack'));
    await b.save(i, Buffer.from('index'));
    await b.save({ type: 'config', name: 'config' }, Buffer.from('cfg'));
    const puts = seen.filter((r) => r.command === 'PutObjectCommand').map((r) => r.headers);
    expect(puts.map((p) => p['x-amz-storage-class'])).toEqual(['STANDARD_IA', undefined, undefined]);
    expect(puts.map((p) => p['x-amz-server-side-encryption'])).toEqual(['AES256', 'AES256', 'AES256']);

    const kms = await rawBackend(srv, { sseKmsKeyId: 'alias/repo-test' });
    const kseen = recordRequests(kms);
    await kms.save(i, Buffer.from('index'));
    const kput = kseen.find((r) => r.command === 'PutObjectCommand')!.headers;
    expect(kput['x-amz-server-side-encryption']).toBe('aws:kms');
    expect(kput['x-amz-server-side-encryption-aws-kms-key-id']).toBe('alias/repo-test');
  });

  it('never has more than `connections` requests in flight', async () => {
    const b = await rawBackend(srv, { connections: 2 });
    let inFlight = 0;
    let peak = 0;
    b.client.middlewareStack.add(
      (next) => async (args) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        try {
          return await next(args);
        } finally {
          inFlight--;
        }
      },
      { step: 'finalizeRequest', priority: 'low', name: 'inflight' },
    );
    const blobs = Array.from({ length: 20 }, () => randomBytes(20_000));
    await Promise.all(blobs.map((d) => b.save({ type: 'data', name: idOf(d) }, d)));
    await Promise.all(blobs.map((d) => b.load({ type: 'data', name: idOf(d) })));
    expect(peak).toBe(2);
  });

  it('aborting a load mid-way ends it with INTERRUPTED and no data', async () => {
    const b = await rawBackend(srv);
    const data = randomBytes(8 * 1024 * 1024);
    const h: Handle = { type: 'data', name: idOf(data) };
    await b.save(h, data);
    const ac = new AbortController();
    const p = b.load(h, { signal: ac.signal });
    setTimeout(() => ac.abort(), 1);
    try {
      const got = await p;
      expect(got.equals(data)).toBe(true); // finished before the abort landed: whole file
    } catch (err) {
      expect((err as RepoError).code).toBe('INTERRUPTED');
    }
  });

  it('wrong credentials are a permanent BackendError that shows no secret', async () => {
    // s3rver checks the access key id but not SigV4 signatures, so the key id is what is wrong here.
    const secret = 'not-the-secret-Zq8Xw';
    const loc = parseS3Location(`${srv.endpoint}/${srv.bucket}/p`);
    const b = new S3Backend(
      s3ConfigFor(loc, { credentials: { accessKeyId: 'NOSUCHKEY', secretAccessKey: secret } }, {}),
    );
    opened.push(b);
    const err = await rejection(b.save({ type: 'keys', name: randomId() }, Buffer.from('x')));
    expect(err).toBeInstanceOf(BackendError);
    expect(err).not.toBeInstanceOf(TransientBackendError);
    expect(err.message).toMatch(/access denied/);
    expect(err.context.s3code).toBe('InvalidAccessKeyId');
    expect(err.message).not.toContain(secret);
    expect(JSON.stringify(err.context)).not.toContain(secret);
    expect(b.location).not.toContain(secret);
  });

  it('close() is idempotent and later calls fail cleanly', async () => {
    const b = await rawBackend(srv);
    await b.close();
    await b.close();
    expect((await rejection(b.stat({ type: 'keys', name: randomId() }))).code).toBe('BACKEND');
  });
});

describe('openBackend / createBackend with s3: locations', () => {
  let srv: S3TestServer;
  beforeAll(async () => {
    srv = await server();
  });
  const made: Backend[] = [];
  afterEach(async () => {
    for (const b of made.splice(0)) await b.close();
  });

  it('init then open; location holds no credentials', async () => {
    const loc = `s3:${srv.endpoint}/${srv.bucket}/${prefix()}`;
    const c = await createBackend(loc, openOpts(srv));
    made.push(c);
    expect(c.location).toBe(loc);
    expect(c.location).not.toContain('S3RVER');
    await c.save({ type: 'config', name: 'config' }, Buffer.from('cfg'));
    const o = await openBackend(loc, openOpts(srv));
    made.push(o);
    expect(o).toBeInstanceOf(RetryBackend);
    expect((o as RetryBackend).inner).toBeInstanceOf(S3Backend);
    expect((await o.load({ type: 'config', name: 'config' })).toString()).toBe('cfg');
    expect((await rejection(createBackend(loc, openOpts(srv)))).code).toBe('REPO_EXISTS');
  });

  it('open: a missing bucket is REPO_NOT_FOUND, an empty prefix NOT_A_REPOSITORY, and nothing is created', async () => {
    const bucket = `nb-${randomId().slice(0, 10)}`;
    expect((await rejection(openBackend(`s3:${srv.endpoint}/${bucket}/x`, openOpts(srv)))).code).toBe('REPO_NOT_FOUND');
    await expect(fs.access(`${srv.dir}/${bucket}`)).rejects.toThrow();
    const p = prefix();
    expect((await rejection(openBackend(`s3:${srv.endpoint}/${srv.bucket}/${p}`, openOpts(srv)))).code).toBe(
      'NOT_A_REPOSITORY',
    );
  });

  it('create makes a missing bucket (unless told not to)', async () => {
    const bucket = `nb-${randomId().slice(0, 10)}`;
    const off = await rejection(
      createBackend(`s3:${srv.endpoint}/${bucket}/r`, openOpts(srv, { s3: { createBucket: false } })),
    );
    expect(off.code).toBe('BACKEND');
    const c = await createBackend(`s3:${srv.endpoint}/${bucket}/r`, openOpts(srv));
    made.push(c);
    await c.save({ type: 'config', name: 'config' }, Buffer.from('cfg'));
    const o = await openBackend(`s3:${srv.endpoint}/${bucket}/r`, openOpts(srv));
    made.push(o);
    expect(await listNames(o, 'config')).toEqual(['config']);
  });

  it('create refuses a prefix that holds other objects', async () => {
    const p = prefix();
    const raw = await rawBackend(srv);
    await raw.client.send(
      new PutObjectCommand({ Bucket: srv.bucket, Key: `${p}/photo.jpg`, Body: Buffer.from('x'), ContentLength: 1 }),
    );
    const err = await rejection(createBackend(`s3:${srv.endpoint}/${srv.bucket}/${p}`, openOpts(srv)));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toMatch(/not empty/);
  });

  it('credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, options from REPO_S3_*', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = srv.credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = srv.credentials.secretAccessKey;
    try {
      const loc = `s3:${srv.endpoint}/${srv.bucket}/${prefix()}`;
      const c = await createBackend(loc, {
        env: { REPO_S3_CONNECTIONS: '3', REPO_S3_STORAGE_CLASS: 'STANDARD_IA' },
        retry: { baseDelayMs: 5 },
      });
      made.push(c);
      const h: Handle = { type: 'data', name: randomId() };
      await c.save(h, Buffer.from('x'));
      expect((await c.load(h)).toString()).toBe('x');
      expect((await rejection(openBackend(loc, { env: { REPO_S3_CONNECTIONS: 'lots' } }))).code).toBe(
        'INVALID_ARGUMENT',
      );
    } finally {
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      else process.env.AWS_ACCESS_KEY_ID = saved.id;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    }
  });
});

describe('S3 with a server that crashes', () => {
  let srv: S3TestServer;
  beforeAll(async () => {
    srv = await startS3Server({ bucket: 'crashy' });
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it('a save in flight when the server is killed retries after the restart, or fails with a clean BackendError', async () => {
    const retries: RetryInfo[] = [];
    const loc = `s3:${srv.endpoint}/${srv.bucket}/crash`;
    const b = await createBackend(
      loc,
      openOpts(srv, { retry: { attempts: 10, baseDelayMs: 100, maxDelayMs: 1000, onRetry: (i) => retries.push(i) } }),
    );
    try {
      const data = randomBytes(48 * 1024 * 1024);
      const h: Handle = { type: 'data', name: idOf(data) };
      const objectFile = srv.objectFile(`crash/${handleToPath(h)}`);
      const saving = b.save(h, data).then(
        () => undefined,
        (err: unknown) => err,
      );
      // Kill the server once it has started writing the object: the upload is certainly in flight.
      const deadline = Date.now() + 20_000;
      for (;;) {
        const st = await fs.stat(objectFile).catch(() => undefined);
        if (st !== undefined && st.size > 0) break;
        if (Date.now() > deadline) throw new Error('the upload never reached the server');
        await new Promise((r) => setTimeout(r, 2));
      }
      await srv.kill();
      await new Promise((r) => setTimeout(r, 300));
      await srv.restart();
      const outcome = await saving;
      if (outcome === undefined) {
        expect(retries.length).toBeGreaterThan(0);
        expect(retries[0].op).toBe('save');
        expect((await b.load(h)).equals(data)).toBe(true);
        expect((await b.stat(h)).size).toBe(data.length);
      } else {
        expect(outcome).toBeInstanceOf(BackendError);
        expect((outcome as RepoError).code).toBe('BACKEND');
      }
      // Either way the server works again and the backend with it.
      const small: Handle = { type: 'keys', name: randomId() };
      await b.save(small, Buffer.from('after restart'));
      expect((await b.load(small)).toString()).toBe('after restart');
    } finally {
      await b.close();
    }
  });

  it('a server that stays down: the call gives up with a BackendError after the attempts', async () => {
    const retries: RetryInfo[] = [];
    const loc = `s3:${srv.endpoint}/${srv.bucket}/down`;
    const b = await createBackend(
      loc,
      openOpts(srv, { retry: { attempts: 3, baseDelayMs: 10, onRetry: (i) => retries.push(i) } }),
    );
    try {
      await srv.kill();
      const err = await rejection(b.save({ type: 'keys', name: randomId() }, Buffer.from('x')));
      expect(err).toBeInstanceOf(BackendError);
      expect(err.message).toMatch(/gave up after 3 attempts/);
      expect(err.cause).toBeInstanceOf(TransientBackendError);
      expect(retries.length).toBe(2);
      expect(err.message).not.toContain('S3RVER');
    } finally {
      await b.close();
      await srv.restart();
    }
  });
});
