// (b) kernel: the Linux source tree from Debian's linux-source-6.1; change = ~1 % of the files
// (every 100th in sorted order): half get a line appended, half are only touched.

import { existsSync, appendFileSync, utimesSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cached, copyContents, emptyDir } from '../fsutil.mjs';
import { aptInstall, shOk } from '../proc.mjs';

const PKG = 'linux-source-6.1';
const TARBALL = `/usr/src/${PKG}.tar.xz`;

function listFiles(root) {
  const out = [];
  const walk = (rel) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) out.push(r);
    }
  };
  walk('');
  return out.sort();
}

export default {
  name: 'kernel',
  letter: 'b',
  big: true,
  async prepare({ cache, quick, log }) {
    if (!existsSync(TARBALL)) {
      log(`  ${TARBALL} missing; installing Debian package ${PKG}`);
      if (!(await aptInstall([PKG], log)) || !existsSync(TARBALL)) {
        return { skip: `${PKG} is not installed and could not be installed` };
      }
    }
    // quick: only Documentation/ (~10k files, ~60 MB)
    const member = quick ? `${PKG}/Documentation` : PKG;
    const dir = join(cache, 'kernel', quick ? 'Documentation' : PKG);
    await cached(dir, member, async (tmp) => {
      log(`  extracting ${member} from ${TARBALL} (takes a minute)`);
      shOk('tar', ['xJf', TARBALL, '-C', tmp, '--no-same-owner', `--strip-components=${quick ? 2 : 1}`, member]);
    });
    return {
      description: `${quick ? 'Documentation/ of ' : ''}Linux ${PKG} source tree; change: 1 % of files (half appended to, half touched)`,
      params: { member },
      estimateBytes: quick ? 70e6 : 1.5e9,
      v1Label: quick ? `${PKG}/Documentation` : PKG,
      setup(work) {
        emptyDir(work);
        copyContents(dir, work);
      },
      changes: [
        {
          label: '1 % of files changed',
          apply(work) {
            const files = listFiles(work);
            let n = 0;
            const now = new Date();
            for (let i = 37 % 100; i < files.length; i += 100, n++) {
              const p = join(work, files[i]);
              if (n % 2 === 0) appendFileSync(p, `\n/* repo-bench change ${n} */\n`);
              else utimesSync(p, now, now);
            }
          },
        },
      ],
    };
  },
};
