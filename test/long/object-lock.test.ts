// S3 Object Lock against a server that enforces it: Debian's Ceph radosgw on a single-node cluster on loopback
// (test/helpers/radosgw.ts). init --object-lock, locked writes, deletes refused by the server, forget and prune
// planning around locks, retention extended by new snapshots, check reporting short locks, and governance versus
// compliance. Shortening a lock to provoke the cases is done the only way the server allows: governance bypass.

import fs from 'node:fs';
import path from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectRetentionCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutObjectRetentionCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { retainUntil } from '../../src/backend/object-lock.js';
import { S3Backend } from '../../src/backend/s3.js';
import { lastJson, runCli, type CliResult } from '../helpers/cli.js';
import { type RadosgwServer, startRadosgw } from '../helpers/radosgw.js';
import { prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { s3CliEnv } from '../helpers/s3server.js';

const PASSWORD = 'object lock correct horse';
const LONG = 300_000;

let srv: RadosgwServer;
let s3: S3Client;
let tmp: string;
let src: string;

const repoAt = (bucket: string) => `s3:${srv.endpoint}/${bucket}/repo`;

function run(repo: string, args: string[]): Promise<CliResult> {
  return runCli(['-r', repo, ...args], {
    cwd: tmp,
    password: PASSWORD,
    env: {
      ...s3CliEnv(srv.credentials),
      REPO_CACHE_DIR: path.join(tmp, 'cache'),
    },
  });
}

async function ok(repo: string, args: string[]): Promise<CliResult> {
  const r = await run(repo, args);
  if (r.code !== 0) throw new Error(`repo ${args.join(' ')} exited ${r.code ?? r.signal}:\n${r.stderr}${r.out}`);
  return r;
}

async function keys(bucket: string, prefix: string): Promise<string[]> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `repo/${prefix}` }));
  return (out.Contents ?? []).map((o) => o.Key!).sort();
}

async function retention(bucket: string, key: string): Promise<{ mode?: string; until?: Date }> {
  try {
    const out = await s3.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: key }));
    return { mode: out.Retention?.Mode, until: out.Retention?.RetainUntilDate };
  } catch {
    return {};
  }
}

async function versionOf(bucket: string, key: string): Promise<string> {
  const out = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  return out.Versions!.find((v) => v.Key === key && v.IsLatest)!.VersionId!;
}

/** Error name of a failed S3 call, or 'ok'. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return (err as { name?: string }).name ?? 'error';
  }
}

function writeFiles(dir: string, seed: number, count: number): void {
  const rand = prng(seed);
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) fs.writeFileSync(path.join(dir, `f${seed}-${i}.bin`), randomBuffer(rand, 300_000));
}

/** Sets a lock shorter than the repository's, as only an administrator with governance bypass can. */
async function shortenGoverned(bucket: string, key: string, until: Date): Promise<void> {
  await s3.send(
    new PutObjectRetentionCommand({
      Bucket: bucket,
      Key: key,
      BypassGovernanceRetention: true,
      Retention: { Mode: 'GOVERNANCE', RetainUntilDate: until },
    }),
  );
}

beforeAll(async () => {
  tmp = tempDir('repo-objlock-');
  src = path.join(tmp, 'src');
  writeFiles(path.join(src, 'a'), 1, 4);
  srv = await startRadosgw();
  // Figure for the notes: how long the single-node cluster takes to come up on this machine.
  process.stderr.write(`radosgw cluster started in ${srv.startupMs} ms\n`);
  s3 = new S3Client({
    endpoint: srv.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { ...srv.credentials },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}, LONG);

afterAll(async () => {
  s3?.destroy();
  await srv?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, LONG);

describe('S3 Object Lock on radosgw', () => {
  const gov = 'lock-governance';
  const comp = 'lock-compliance';
  let snap1: string;
  let snap2: string;

  it(
    'init refuses a bucket without Object Lock and half-given flags',
    async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'plain' }));
      const r = await run(repoAt('plain'), ['init', '--object-lock', 'governance', '--lock-days', '1']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/does not have Object Lock enabled/);
      expect(await keys('plain', '')).toEqual([]); // nothing written
      const half = await run(repoAt('plain'), ['init', '--object-lock', 'governance']);
      expect(half.code).not.toBe(0);
      expect(half.stderr).toMatch(/--object-lock and --lock-days must be given together/);
    },
    LONG,
  );

  it(
    'init --object-lock creates a locked bucket and writes config and key locked',
    async () => {
      const init = lastJson(
        (await ok(repoAt(gov), ['--json', 'init', '--object-lock', 'governance', '--lock-days', '1'])).out,
      );
      expect(init.object_lock).toEqual({ mode: 'governance', days: 1 });
      const cfg = await retention(gov, 'repo/config');
      expect(cfg.mode).toBe('GOVERNANCE');
      expect(cfg.until!.getTime()).toBeGreaterThanOrEqual(retainUntil(new Date(Date.now() - 60_000), 1).getTime());
      const [key] = await keys(gov, 'keys/');
      expect((await retention(gov, key)).mode).toBe('GOVERNANCE');
    },
    LONG,
  );

  it(
    'backup writes packs and snapshots locked, index and lock files unlocked',
    async () => {
      snap1 = lastJson((await ok(repoAt(gov), ['--json', 'backup', src])).out).snapshot_id;
      const packs = await keys(gov, 'data/');
      expect(packs.length).toBeGreaterThan(0);
      for (const p of packs) expect((await retention(gov, p)).mode).toBe('GOVERNANCE');
      expect((await retention(gov, `repo/snapshots/${snap1}`)).mode).toBe('GOVERNANCE');
      for (const i of await keys(gov, 'index/')) expect((await retention(gov, i)).mode).toBeUndefined();
      expect(await keys(gov, 'locks/')).toEqual([]); // removed after the backup: lock files stay deletable
    },
    LONG,
  );

  it(
    'the server refuses to delete a locked pack version',
    async () => {
      const [pack] = await keys(gov, 'data/');
      const versionId = await versionOf(gov, pack);
      expect(await outcome(s3.send(new DeleteObjectCommand({ Bucket: gov, Key: pack, VersionId: versionId })))).toBe(
        'AccessDenied',
      );
      // Shortening a lock without the governance bypass is refused too.
      const r = await outcome(
        s3.send(
          new PutObjectRetentionCommand({
            Bucket: gov,
            Key: pack,
            Retention: { Mode: 'GOVERNANCE', RetainUntilDate: new Date(Date.now() + 3_600_000) },
          }),
        ),
      );
      expect(r).toBe('AccessDenied');
    },
    LONG,
  );

  it(
    'forget keeps a locked snapshot and says until when',
    async () => {
      const r = await ok(repoAt(gov), ['forget', snap1]);
      expect(r.stderr).toMatch(
        new RegExp(`snapshot ${snap1.slice(0, 8)} is kept: it is under object lock until \\d{4}-`),
      );
      expect(await keys(gov, 'snapshots/')).toEqual([`repo/snapshots/${snap1}`]);
    },
    LONG,
  );

  it(
    'forget --prune removes an expired snapshot but keeps its locked packs, saying until when',
    async () => {
      fs.rmSync(path.join(src, 'a'), { recursive: true });
      writeFiles(path.join(src, 'b'), 2, 4); // new data: snap1's packs become unused once snap1 is gone
      snap2 = lastJson((await ok(repoAt(gov), ['--json', 'backup', src])).out).snapshot_id;
      // An administrator lets snap1's own lock run out (governance bypass); its packs stay locked.
      await shortenGoverned(gov, `repo/snapshots/${snap1}`, new Date(Date.now() + 2_000));
      await new Promise((r) => setTimeout(r, 3_000));
      const packsBefore = await keys(gov, 'data/');
      const r = await ok(repoAt(gov), ['forget', snap1, '--prune']);
      expect(r.out + r.stderr).toMatch(/removed 1 snapshot/);
      expect(r.out + r.stderr).toMatch(
        /keeps \d+ packs \([^)]*\) it would remove: they are under object lock until \d{4}-\d\d-\d\dT/,
      );
      expect(await keys(gov, 'snapshots/')).toEqual([`repo/snapshots/${snap2}`]);
      expect(await keys(gov, 'data/')).toEqual(packsBefore); // no locked pack was deleted (or hidden)
      const plan = lastJson((await ok(repoAt(gov), ['--json', 'prune', '--dry-run'])).out);
      expect(plan.locked_packs?.length).toBeGreaterThan(0);
      for (const l of plan.locked_packs) expect(new Date(l.until).getTime()).toBeGreaterThan(Date.now());
      expect(plan.packs_to_delete + plan.packs_to_repack).toBe(0);
      await ok(repoAt(gov), ['check']);
    },
    LONG,
  );

  it(
    'check reports a pack whose lock ends before its snapshot; a new backup extends it',
    async () => {
      const needed = await keys(gov, 'data/');
      const snapUntil = (await retention(gov, `repo/snapshots/${snap2}`)).until!;
      // Shorten every pack: those snap2 needs must be reported.
      for (const p of needed) await shortenGoverned(gov, p, new Date(Date.now() + 3_600_000));
      const bad = await run(repoAt(gov), ['check']);
      expect(bad.code).toBe(1);
      expect(bad.out).toMatch(
        /data\/[0-9a-f]{2}\/[0-9a-f]{64} is locked only until .* but snapshot [0-9a-f]{8} needs it locked until/,
      );
      const backup = await ok(repoAt(gov), ['backup', src]); // same data: deduplicated against the shortened packs
      expect(backup.stderr + backup.out).toMatch(/extended the object lock of \d+ of \d+ packs/);
      await ok(repoAt(gov), ['check']);
      const extendedTo = await Promise.all(needed.map(async (p) => (await retention(gov, p)).until!.getTime()));
      expect(Math.max(...extendedTo)).toBeGreaterThanOrEqual(snapUntil.getTime());
    },
    LONG,
  );

  it(
    'compliance: nobody can delete or shorten, not even with the governance bypass',
    async () => {
      await ok(repoAt(comp), ['init', '--object-lock', 'compliance', '--lock-days', '1']);
      await ok(repoAt(comp), ['backup', src]);
      const [pack] = await keys(comp, 'data/');
      expect((await retention(comp, pack)).mode).toBe('COMPLIANCE');
      const versionId = await versionOf(comp, pack);
      const del = await outcome(
        s3.send(
          new DeleteObjectCommand({ Bucket: comp, Key: pack, VersionId: versionId, BypassGovernanceRetention: true }),
        ),
      );
      expect(del).toBe('AccessDenied');
      const shorten = await outcome(shortenGoverned(comp, pack, new Date(Date.now() + 3_600_000)));
      expect(shorten).not.toBe('ok');
      // Governance, for contrast: the bypass lets an administrator delete a locked version.
      const [govSnap] = await keys(gov, 'snapshots/');
      const govDel = await outcome(
        s3.send(
          new DeleteObjectCommand({
            Bucket: gov,
            Key: govSnap,
            VersionId: await versionOf(gov, govSnap),
            BypassGovernanceRetention: true,
          }),
        ),
      );
      expect(govDel).toBe('ok');
    },
    LONG,
  );

  it(
    'a multipart upload is locked too (radosgw ignores the headers of CreateMultipartUpload; repo sets the lock after)',
    async () => {
      const b = new S3Backend({
        endpoint: srv.endpoint,
        bucket: 'lock-multipart',
        prefix: 'repo',
        credentials: { ...srv.credentials },
        multipartThresholdBytes: 5 << 20,
        partSizeBytes: 5 << 20,
      });
      try {
        b.objectLock.setWritePolicy({ mode: 'compliance', days: 1 });
        await b.create();
        await b.objectLock.checkLockEnabled();
        const h = { type: 'data' as const, name: 'ef'.repeat(32) };
        const data = randomBytes(11 << 20);
        await b.save(h, data);
        expect(b.requests.UploadPart).toBe(3);
        expect(await b.objectLock.retention(h)).toEqual({ mode: 'compliance', until: retainUntil(new Date(), 1) });
        expect((await b.load(h)).equals(data)).toBe(true);
        await expect(b.remove(h)).rejects.toThrow(/is locked until/);
      } finally {
        await b.close();
      }
    },
    LONG,
  );
});
