// (d) pgdump: plain-text pg_dump of a pgbench database before (v1) and after (v2) a pgbench run,
// made with a throwaway PostgreSQL cluster on a loopback port in a temp dir. The backed-up folder
// holds one file, db.sql, overwritten in place by the second dump.

import { chownSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cached, emptyDir } from '../fsutil.mjs';
import { aptInstall, isRoot, sh, shOk } from '../proc.mjs';

function findPgBin() {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = join(base, v, 'bin');
    if (['initdb', 'pg_ctl', 'pgbench', 'pg_dump', 'createdb'].every((b) => existsSync(join(bin, b)))) return bin;
  }
  return null;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function makeDumps(out, { scale, transactions, log }) {
  let bin = findPgBin();
  if (!bin) {
    log('  PostgreSQL server binaries not found; installing Debian package postgresql');
    if (!(await aptInstall(['postgresql'], log))) return false;
    bin = findPgBin();
    if (!bin) return false;
  }
  const asPg = isRoot;
  if (asPg && sh('id', ['-u', 'postgres']).code !== 0) throw new Error('running as root but there is no postgres user');
  const tmp = mkdtempSync(join(tmpdir(), 'repo-bench-pg-'));
  const pgUid = asPg ? Number(sh('id', ['-u', 'postgres']).stdout) : null;
  const pgGid = asPg ? Number(sh('id', ['-g', 'postgres']).stdout) : null;
  if (asPg) chownSync(tmp, pgUid, pgGid);
  const run = (cmd, args) =>
    asPg
      ? shOk('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { cwd: tmp })
      : shOk(join(bin, cmd), args, { cwd: tmp });
  const port = await freePort();
  const conn = ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'];
  const data = join(tmp, 'data');
  let started = false;
  try {
    log(`  initdb + pg_ctl start on 127.0.0.1:${port} (${bin})`);
    run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
    const opts = `-p ${port} -k ${tmp} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
    run('pg_ctl', ['-D', data, '-o', opts, '-l', join(tmp, 'server.log'), '-w', 'start']);
    started = true;
    run('createdb', [...conn, 'bench']);
    log(`  pgbench -i -s ${scale}`);
    run('pgbench', [...conn, '-i', '-q', '-s', String(scale), 'bench']);
    run('pg_dump', [...conn, '-f', join(tmp, 'v1.sql'), 'bench']);
    log(`  pgbench -t ${transactions}`);
    run('pgbench', [...conn, '-c', '1', '-t', String(transactions), '--random-seed=42', 'bench']);
    run('pg_dump', [...conn, '-f', join(tmp, 'v2.sql'), 'bench']);
    copyFileSync(join(tmp, 'v1.sql'), join(out, 'v1.sql'));
    copyFileSync(join(tmp, 'v2.sql'), join(out, 'v2.sql'));
  } finally {
    if (started) {
      try {
        run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      } catch (e) {
        log(`  warning: could not stop the throwaway PostgreSQL: ${e.message}`);
      }
    }
    rmSync(tmp, { recursive: true, force: true });
  }
  return true;
}

export default {
  name: 'pgdump',
  letter: 'd',
  big: true,
  async prepare({ cache, quick, log }) {
    const scale = quick ? 2 : 20;
    const transactions = quick ? 200 : 2000;
    const dir = join(cache, 'pgdump', `s${scale}-t${transactions}`);
    let available = true;
    try {
      await cached(dir, `pgbench -s ${scale} -t ${transactions}`, async (tmp) => {
        if (!(await makeDumps(tmp, { scale, transactions, log }))) {
          available = false;
          throw new Error('unavailable');
        }
      });
    } catch (e) {
      return {
        skip: available
          ? `could not make the dumps: ${e.message}`
          : 'PostgreSQL is not available and could not be installed',
      };
    }
    return {
      description: `pg_dump of a pgbench -s ${scale} database before and after pgbench -t ${transactions}, as one file db.sql overwritten in place`,
      params: { scale, transactions },
      estimateBytes: quick ? 30e6 : 300e6,
      v1Label: 'dump before pgbench run',
      setup(work) {
        emptyDir(work);
        copyFileSync(join(dir, 'v1.sql'), join(work, 'db.sql'));
      },
      changes: [
        {
          label: 'dump after pgbench run',
          apply(work) {
            copyFileSync(join(dir, 'v2.sql'), join(work, 'db.sql')); // O_TRUNC: same inode, new content
          },
        },
      ],
    };
  },
};
