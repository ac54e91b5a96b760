// The prefetcher only warms the page cache: it must not change a file's atime (which backups record),
// must tolerate files that vanish, and must not keep going after its queue is empty.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Prefetcher } from '../../src/archiver/prefetch.js';
import { tempDir } from '../helpers/repo.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('Prefetcher', () => {
  it('reads files ahead without changing their atime, and ignores missing ones', async () => {
    const dir = tempDir('prefetch-');
    dirs.push(dir);
    const files = Array.from({ length: 40 }, (_, i) => path.join(dir, `f${i}`));
    const old = new Date('2001-02-03T04:05:06Z');
    for (const f of files) {
      fs.writeFileSync(f, Buffer.alloc(1000 + files.indexOf(f), 7));
      fs.utimesSync(f, old, new Date()); // atime older than mtime: a plain read under relatime would update it
    }
    const p = new Prefetcher();
    for (const f of files) p.hint(Buffer.from(f), fs.statSync(f).size);
    p.hint(Buffer.from(path.join(dir, 'missing')), 10);
    await p.idle();
    for (const f of files) expect(fs.statSync(f).atime.getTime()).toBe(old.getTime());
  });
});
