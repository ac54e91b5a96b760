// The spool of asynchronous WAL archiving on real files: acknowledgements are trusted only for the same
// bytes, one pusher at a time (a dead one's pid file is taken over), ready files found in archive_status,
// and the light entry path answers only an acknowledged file with exactly the options it knows.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acknowledgedPush } from '../../src/cli/wal-ack.js';
import { fileDigest, fileIdentity, WalSpool } from '../../src/ops/pg-wal-spool.js';

const SEG = '000000010000000000000007';
let dir = '';
let spool: WalSpool;
let wal = '';

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-spool-'));
  wal = path.join(dir, 'pg_wal');
  fs.mkdirSync(path.join(wal, 'archive_status'), { recursive: true });
  fs.writeFileSync(path.join(wal, SEG), Buffer.alloc(3 << 20, 7));
  spool = new WalSpool(path.join(dir, 'spool'));
  await spool.init();
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const argv = (...a: string[]) => ['node', 'repo', ...a];

describe('WAL spool', () => {
  it('digests a file as SHA-256 of its bytes', async () => {
    const d = await fileDigest(path.join(wal, SEG));
    expect(d).toEqual({
      sha256: createHash('sha256')
        .update(fs.readFileSync(path.join(wal, SEG)))
        .digest('hex'),
      size: 3 << 20,
    });
  });

  it('answers an acknowledged file only when its bytes match the acknowledgement', async () => {
    const file = path.join(wal, SEG);
    const push = argv('wal', 'push', '--profile', 'db', '--spool', spool.dir, '-q', file);
    expect(await acknowledgedPush(push)).toBe(false); // nothing acknowledged yet
    const d = await fileDigest(file);
    await spool.writeAck({ name: SEG, sha256: d.sha256, size: d.size, snapshot: 'ab'.repeat(32), outcome: 'stored' });
    expect(await acknowledgedPush(push)).toBe(true);
    expect(await acknowledgedPush(argv('wal', 'push', '--profile=db', `--spool=${spool.dir}`, '-q', file))).toBe(true);
    // Options it does not know, or no --profile, are left to the full program.
    expect(await acknowledgedPush(argv('--json', 'wal', 'push', '--profile', 'db', '--spool', spool.dir, file))).toBe(
      false,
    );
    expect(await acknowledgedPush(argv('wal', 'push', '--spool', spool.dir, file))).toBe(false);
    const changed = fs.readFileSync(file);
    changed[5] ^= 1;
    fs.writeFileSync(file, changed);
    expect(await acknowledgedPush(push)).toBe(false); // other bytes under the same name: never acknowledged
  });

  it("trusts an acknowledgement's file identity while the file keeps it, and the digest once it changed", async () => {
    const file = path.join(wal, SEG);
    const push = argv('wal', 'push', '--profile', 'db', '--spool', spool.dir, '-q', file);
    const d = await fileDigest(file);
    const identity = await fileIdentity(file);
    // The identity names this very file as the pusher read it: accepted without reading the bytes (the
    // digest recorded here is deliberately not this file's, which only the identity can make pass).
    await spool.writeAck({
      name: SEG,
      sha256: '0'.repeat(64),
      size: d.size,
      snapshot: 'ab'.repeat(32),
      outcome: 'stored',
      identity,
    });
    expect(await acknowledgedPush(push)).toBe(true);
    // Replaced by a file with the same bytes: a new identity, so the digest decides (here: the wrong one).
    fs.writeFileSync(`${file}.new`, fs.readFileSync(file));
    fs.renameSync(`${file}.new`, file);
    expect(await fileIdentity(file)).not.toBe(identity);
    expect(await acknowledgedPush(push)).toBe(false);
    await spool.writeAck({
      name: SEG,
      sha256: d.sha256,
      size: d.size,
      snapshot: 'ab'.repeat(32),
      outcome: 'stored',
      identity,
    });
    expect(await acknowledgedPush(push)).toBe(true);
  });

  it('lists requests and ready files, and refuses names that are not WAL names', async () => {
    fs.writeFileSync(path.join(wal, 'archive_status', `${SEG}.ready`), '');
    fs.writeFileSync(path.join(wal, 'archive_status', '000000010000000000000006.done'), '');
    fs.writeFileSync(path.join(wal, 'archive_status', 'junk.ready'), '');
    expect(await spool.ready(wal)).toEqual([{ name: SEG, path: path.join(wal, SEG) }]);
    await spool.request(SEG, path.join(wal, SEG));
    expect(await spool.requests()).toEqual([{ name: SEG, path: path.join(wal, SEG) }]);
    await spool.dropRequest(SEG);
    expect(await spool.requests()).toEqual([]);
  });

  it('lets one pusher hold the spool and takes over the pid file of a dead one', async () => {
    expect(await spool.lockPusher()).toBe(true);
    expect(await spool.pusherPid()).toBe(process.pid);
    expect(await spool.lockPusher()).toBe(false);
    await spool.unlockPusher();
    expect(await spool.pusherPid()).toBeUndefined();
    fs.writeFileSync(spool.pidFile, '999999999\n'); // no such process
    expect(await spool.lockPusher()).toBe(true);
    await spool.unlockPusher();
  });

  it('records a failure with its error code for archive_command to report', async () => {
    const { RepoError } = await import('../../src/core/errors.js');
    await spool.writeFailure(SEG, new RepoError('REPO_NOT_FOUND', 'no repository at /x'));
    expect(await spool.readFailure(SEG)).toEqual({ name: SEG, code: 'REPO_NOT_FOUND', message: 'no repository at /x' });
    await spool.clearFailure(SEG);
    expect(await spool.readFailure(SEG)).toBeUndefined();
  });
});
