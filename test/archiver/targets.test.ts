// The planned root for backup arguments, checked against what restic 0.14 stored for the same arguments
// (recorded from `restic ls latest`; test/e2e/full-paths.test.ts compares with restic itself when installed).

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expandTargets, planRoot, type TargetNode } from '../../src/archiver/targets.js';
import { tempDir } from '../helpers/repo.js';

const work = tempDir('targets-');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** "name<-source" per node, depth first, with the intermediate directories' metadata paths. */
function shape(n: TargetNode, prefix = ''): string[] {
  const out: string[] = [];
  for (const [name, c] of [...n.children].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const p = `${prefix}/${name}`;
    out.push(c.source !== undefined ? `${p} <- ${c.source}` : `${p} (meta ${c.infoPath})`);
    out.push(...shape(c, p));
  }
  return out;
}

const plan = (args: string[], cwd: string) => shape(planRoot(expandTargets(args, cwd), cwd));

describe('planned snapshot root', () => {
  it('an absolute path keeps every component; sources sharing a prefix share it', () => {
    expect(plan(['/srv/data/me'], '/')).toEqual([
      '/srv (meta /srv)',
      '/srv/data (meta /srv/data)',
      '/srv/data/me <- /srv/data/me',
    ]);
    expect(plan(['/a/b/c', '/a/d', '/a/b/c/'], '/')).toEqual([
      '/a (meta /a)',
      '/a/b (meta /a/b)',
      '/a/b/c <- /a/b/c',
      '/a/d <- /a/d',
    ]);
  });

  it('two sources with the same last component stay apart under their own parents', () => {
    expect(plan(['/x/data', '/y/data'], '/')).toEqual([
      '/x (meta /x)',
      '/x/data <- /x/data',
      '/y (meta /y)',
      '/y/data <- /y/data',
    ]);
  });

  it('relative paths start at the working directory, leading ".." dropped, metadata from the real directories', () => {
    expect(plan(['a/b', 'x'], '/w/src')).toEqual(['/a (meta /w/src/a)', '/a/b <- /w/src/a/b', '/x <- /w/src/x']);
    expect(plan(['../me/docs'], '/w/src/other')).toEqual(['/me (meta /w/src/me)', '/me/docs <- /w/src/me/docs']);
  });

  it('a first component from another root gets "-1", as restic names it', () => {
    expect(plan(['tmp', '/tmp/w/data'], '/w')).toEqual([
      '/tmp <- /w/tmp',
      '/tmp-1 (meta /tmp)',
      '/tmp-1/w (meta /tmp/w)',
      '/tmp-1/w/data <- /tmp/w/data',
    ]);
  });

  it('"." stands for its entries; a target inside another is planned under it', () => {
    fs.mkdirSync(path.join(work, 'b'));
    fs.writeFileSync(path.join(work, 'a.txt'), '');
    expect(plan(['.'], work)).toEqual([`/a.txt <- ${work}/a.txt`, `/b <- ${work}/b`]);
    expect(plan(['/m', '/m/n/o'], '/')).toEqual(['/m <- /m', '/m/n (meta /m/n)', '/m/n/o <- /m/n/o']);
  });
});
