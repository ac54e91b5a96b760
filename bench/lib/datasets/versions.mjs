// (a) versions: successive npm releases of one package, backed up release by release from one
// working directory whose contents are replaced by the next release (like a user upgrading).

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cached, copyContents, emptyDir } from '../fsutil.mjs';
import { shOk } from '../proc.mjs';

// Fixed lists (real releases, checked with `npm view NAME versions --json`) so results reproduce.
// Full: the last patch release of each typescript minor 5.2 ... 5.9 (~22 MB unpacked each).
export const FULL = {
  pkg: 'typescript',
  versions: ['5.2.2', '5.3.3', '5.4.5', '5.5.4', '5.6.3', '5.7.3', '5.8.3', '5.9.3'],
};
// Quick: three prettier releases (~8 MB unpacked each).
export const QUICK = { pkg: 'prettier', versions: ['3.3.3', '3.4.2', '3.5.3'] };

async function release(cache, pkg, version, log) {
  const dir = join(cache, 'versions', pkg, version);
  return cached(dir, `${pkg}@${version}`, async (tmp) => {
    log(`  npm pack ${pkg}@${version}`);
    const dl = mkdtempSync(join(tmpdir(), 'repo-bench-npm-'));
    try {
      const out = shOk('npm', ['pack', `${pkg}@${version}`, '--pack-destination', dl, '--silent'], { cwd: dl });
      const tgz = readdirSync(dl).find((f) => f.endsWith('.tgz'));
      if (!tgz) throw new Error(`npm pack ${pkg}@${version} produced no tarball (${out.trim()})`);
      // npm tarballs hold everything under package/
      shOk('tar', ['xzf', join(dl, tgz), '-C', tmp, '--strip-components=1', '--no-same-owner']);
    } finally {
      rmSync(dl, { recursive: true, force: true });
    }
  });
}

export default {
  name: 'versions',
  letter: 'a',
  big: false,
  async prepare({ cache, quick, log }) {
    const { pkg, versions } = quick ? QUICK : FULL;
    const dirs = [];
    for (const v of versions) dirs.push(await release(cache, pkg, v, log));
    return {
      description: `${versions.length} releases of ${pkg} (${versions.join(', ')}), backed up release by release from one working dir`,
      params: { pkg, versions },
      estimateBytes: versions.length * (quick ? 8e6 : 23e6),
      v1Label: `${pkg}@${versions[0]}`,
      setup(work) {
        emptyDir(work);
        copyContents(dirs[0], work);
      },
      changes: versions.slice(1).map((v, i) => ({
        label: `${pkg}@${v}`,
        apply(work) {
          emptyDir(work); // nothing of the previous release is kept
          copyContents(dirs[i + 1], work);
        },
      })),
    };
  },
};
