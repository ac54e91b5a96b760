// Which archived WAL the kept base backups need, on a real (in-memory) repository: WAL pushed with
// `pushWal`, a base backup whose tar starts with a backup_label. Forget of any kind never takes WAL that
// a base backup needs: `wal forget` removes only segments before its start, and a profile's retention
// never selects WAL snapshots; a lost segment is a gap for `wal status` and for check (repositoryWalChains).

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupStream } from '../../src/archiver/index.js';
import { parseConfig } from '../../src/ops/config.js';
import { repositoryWalChains, walChain } from '../../src/ops/pg-wal-chain.js';
import { pushWal } from '../../src/ops/pg-wal.js';
import { belongsToProfile, profileHost } from '../../src/ops/repos.js';
import { listSnapshots } from '../../src/snapshot/snapshot.js';
import { memoryRepo, tempDir } from '../helpers/repo.js';

const profile = parseConfig(`profiles:
  db:
    repository: /srv/db
    password-file: /etc/repo/db.pass
    host: pg1
    databases:
      - { type: postgresql, name: app, host: 127.0.0.1, user: backup, mode: physical }
`).profiles.get('db')!;

const seg = (n: number) => `0000000100000000000000${n.toString(16).toUpperCase().padStart(2, '0')}`;

/** A tar whose first member is backup_label naming `start`, then a data file, as pg_basebackup sends it. */
function baseTar(start: string): Buffer {
  const member = (name: string, body: Buffer) => {
    const h = Buffer.alloc(512);
    h.write(name, 0, 'latin1');
    h.write(body.length.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
    return Buffer.concat([h, body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
  };
  const label = Buffer.from(`START WAL LOCATION: 0/3000028 (file ${start})\nCHECKPOINT LOCATION: 0/3000060\n`);
  return Buffer.concat([
    member('backup_label', label),
    member('base/1/1259', Buffer.alloc(8192, 1)),
    Buffer.alloc(1024),
  ]);
}

const dir = tempDir('repo-walchain-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('WAL chain of a profile', () => {
  it('needs WAL from the oldest base backup on; retention never selects WAL; a lost segment is a gap', async () => {
    const { repo, backend } = await memoryRepo();
    for (let n = 1; n <= 6; n++) {
      const f = path.join(dir, seg(n));
      fs.writeFileSync(f, Buffer.alloc(64 * 1024, n));
      expect((await pushWal(repo, profile, f)).outcome).toBe('stored');
    }
    const history = path.join(dir, '00000002.history');
    fs.writeFileSync(history, '1\t0/3000000\tno recovery target specified\n');
    await pushWal(repo, profile, history);
    await backupStream(
      repo,
      (async function* () {
        yield baseTar(seg(3));
      })(),
      'postgresql-app.basebackup.tar',
      { host: profileHost(profile) },
    );

    const r = await walChain(repo, profile);
    expect(r.oldestNeeded).toBe(seg(3));
    expect(r.gaps).toEqual([]);
    expect(r.unneeded.map((sn) => sn.paths[0]).sort()).toEqual([`/${seg(1)}`, `/${seg(2)}`]); // never .history
    expect(r.replay).toMatchObject({ fromSegment: seg(3), segments: 4 });

    // A profile's retention sees its base backups only: WAL snapshots are not the profile's.
    const all = await listSnapshots(repo);
    const mine = all.filter(belongsToProfile(profile));
    expect(mine.map((sn) => sn.paths[0])).toEqual(['/postgresql-app.basebackup.tar']);

    // Segment 5 lost (e.g. removed by hand): a gap for the profile and for check, which knows no profile.
    const lost = all.find((sn) => sn.paths[0] === `/${seg(5)}`)!;
    await backend.remove({ type: 'snapshots', name: lost.id });
    expect((await walChain(repo, profile)).gaps).toEqual(['0000000000000005']);
    const chains = await repositoryWalChains(repo, await listSnapshots(repo));
    expect(chains.map((c) => [c.host, c.report.gaps])).toEqual([['pg1', ['0000000000000005']]]);
    await repo.close();
  });
});
