// A snapshot is dated when its backup started, as restic dates it, not when it finished.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { backupPaths } from '../../src/archiver/index.js';
import { loadSnapshot } from '../../src/snapshot/snapshot.js';
import { rfc3339ToNs } from '../../src/tree/time.js';
import { localRepo, tempDir } from '../helpers/repo.js';

const tmp = tempDir('repo-sntime-');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

it('the snapshot time is the backup start, before its end, whatever the backup took', async () => {
  const repo = await localRepo(path.join(tmp, 'repo'));
  const src = path.join(tmp, 'src');
  fs.mkdirSync(src);
  for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(src, `f${i}`), `file ${i}\n`.repeat(i));
  const r = await backupPaths(repo, [src]);
  const sn = await loadSnapshot(repo, r.snapshotId!);
  const ms = Number(rfc3339ToNs(sn.time) / 1_000_000n);
  expect(ms).toBe(Date.parse(sn.summary!.backup_start));
  expect(ms).toBeLessThanOrEqual(Date.parse(sn.summary!.backup_end));
});
