// Point-in-time recovery against a real PostgreSQL server (Debian's package) on loopback: the server archives
// its WAL with `repo wal push` as archive_command, a profile's `mode: physical` entry takes a base backup,
// rows are committed before and after a recorded time, `repo pg restore --target-time` lays down the base
// backup, a second server replays the archived WAL through `repo wal fetch`, and exactly the rows committed
// before the time exist. The server archives asynchronously (`wal push --spool`: a background pusher).
// Also: idempotent push, a conflicting push (direct and through the spool), a missing segment reported by
// wal status and by check, status's WAL RPO, a failing pusher pinging the healthcheck, bad names.
// Every repo command runs as the postgres user when the test runs as root (the server runs the archive
// command as that user, and the repository must stay writable for it).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.mjs';
import { asPostgresArgv as asUser, isRoot, pgBin } from '../helpers/postgres.js';

const BIN = pgBin();

let dir = '';
let job = '';
let cfg = '';
let spool = '';
let hcPort = 0;
/** Requests the healthcheck server on loopback received (method and path). */
const pings: string[] = [];
let hcServer: http.Server | undefined;
const servers: string[] = [];
const env: NodeJS.ProcessEnv = {};

/** Runs a program as the server's user with the test environment (no repository password in it). */
function run(argv: string[], check = true): { code: number | null; out: string; err: string } {
  const cmd = asUser(argv);
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
  if (check && r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const repo = (...args: string[]) => run([process.execPath, CLI, ...args], false);

function psql(port: number, sql: string): string {
  return run([
    path.join(BIN!, 'psql'),
    '-X',
    '-q',
    '-At',
    '-v',
    'ON_ERROR_STOP=1',
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-U',
    'backup',
    '-d',
    'postgres',
    '-c',
    sql,
  ]).out.trim();
}

function startServer(dataDir: string, port: number, extra: string): void {
  run([
    path.join(BIN!, 'pg_ctl'),
    '-D',
    dataDir,
    '-l',
    `${dataDir}.log`,
    '-o',
    `-p ${port} -k ${path.join(dir, 'sock')} -c listen_addresses=127.0.0.1 ${extra}`,
    '-w',
    '-t',
    '120',
    'start',
  ]);
  servers.push(dataDir);
}

async function until(what: string, f: () => boolean, seconds = 30): Promise<void> {
  for (let i = 0; i < seconds * 10; i++) {
    if (f()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(BIN === undefined && process.env.CI === undefined)(
  'PostgreSQL point-in-time recovery (real server on loopback)',
  () => {
    let port = 0;
    let dataDir = '';

    beforeAll(async () => {
      if (BIN === undefined)
        throw new Error(
          'PostgreSQL server binaries not found under /usr/lib/postgresql: apt-get install -y postgresql',
        );
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-pitr-'));
      fs.chmodSync(dir, 0o755);
      job = path.join(dir, 'job');
      fs.mkdirSync(path.join(dir, 'sock'));
      fs.mkdirSync(job);
      fs.writeFileSync(path.join(job, 'repo.pass'), 'wal archive secret\n', { mode: 0o600 });
      port = await freePort();
      hcServer = http.createServer((req, res) => {
        pings.push(`${req.method} ${req.url}`);
        req.resume();
        req.on('end', () => res.end('OK'));
      });
      await new Promise<void>((r) => hcServer!.listen(0, '127.0.0.1', r));
      hcPort = (hcServer.address() as net.AddressInfo).port;
      spool = path.join(dir, 'spool');
      cfg = path.join(job, 'repo.yaml');
      fs.writeFileSync(
        cfg,
        `profiles:\n  pg:\n    repository: ./repo\n    password-file: ./repo.pass\n    databases:\n      - { type: postgresql, name: postgres, host: 127.0.0.1, port: ${port}, user: backup, mode: physical }\n  gone:\n    repository: ./no-such-repo\n    password-file: ./repo.pass\n    sources: [/etc/hostname]\n    monitoring: { healthcheck: "http://127.0.0.1:${hcPort}/ping/gone" }\n`,
      );
      if (isRoot) spawnSync('chown', ['-R', 'postgres:postgres', dir]);
      Object.assign(env, {
        PATH: process.env.PATH,
        HOME: job,
        REPO_CACHE_DIR: path.join(job, 'cache'),
        TZ: 'UTC',
        LANG: 'C',
      });
      const init = run(
        [process.execPath, CLI, '-r', path.join(job, 'repo'), '--password-file', path.join(job, 'repo.pass'), 'init'],
        false,
      );
      expect(init.code, init.err).toBe(0);
      dataDir = path.join(dir, 'data');
      run([
        path.join(BIN, 'initdb'),
        '-D',
        dataDir,
        '-U',
        'backup',
        '--auth=trust',
        '--no-locale',
        '-E',
        'UTF8',
        '--no-sync',
      ]);
      const archive = `${process.execPath} ${CLI} wal push --profile pg --config ${cfg} --spool ${spool} %p`;
      // The lines the README tells users to put into postgresql.conf.
      fs.appendFileSync(
        path.join(dataDir, 'postgresql.conf'),
        `wal_level = replica\narchive_mode = on\narchive_command = '${archive}'\n`,
      );
      startServer(dataDir, port, '-c fsync=off');
    }, 180_000);

    afterAll(() => {
      hcServer?.close();
      for (const d of servers) run([path.join(BIN!, 'pg_ctl'), '-D', d, '-m', 'immediate', '-w', 'stop'], false);
      if (dir !== '' && process.env.REPO_TEST_KEEP === undefined) fs.rmSync(dir, { recursive: true, force: true });
    });

    /** Forces a segment switch and waits until the archiver has stored it. */
    async function switchAndArchive(): Promise<string> {
      const seg = psql(port, 'SELECT pg_walfile_name(pg_switch_wal())');
      await until(`archiving of ${seg}`, () => psql(port, 'SELECT last_archived_wal FROM pg_stat_archiver') >= seg);
      return seg;
    }

    it('restores to a time between two commits: exactly the rows committed before it exist', async () => {
      psql(port, 'CREATE TABLE ledger (id int PRIMARY KEY, note text)');
      psql(port, "INSERT INTO ledger VALUES (1, 'before the base backup')");
      await switchAndArchive();

      const base = repo('run', '--config', cfg, 'pg');
      expect(base.code, base.out + base.err).toBe(0);
      expect(base.out).toContain('pg_basebackup --no-password --pgdata=- --format=tar --wal-method=fetch');

      psql(port, "INSERT INTO ledger VALUES (2, 'after the base backup, before the target')");
      await new Promise((r) => setTimeout(r, 300));
      const target = psql(port, 'SELECT clock_timestamp()::text');
      await new Promise((r) => setTimeout(r, 300));
      psql(port, "INSERT INTO ledger VALUES (3, 'after the target')");
      const last = await switchAndArchive();
      expect(psql(port, 'SELECT failed_count FROM pg_stat_archiver')).toBe('0');
      // Archived through the spool: the pusher acknowledged it, after storing it (its log says so).
      expect(JSON.parse(fs.readFileSync(path.join(spool, 'acked', last), 'utf8')).size).toBe(16 * 1024 * 1024);
      expect(fs.readFileSync(path.join(spool, 'pusher.log'), 'utf8')).toMatch(new RegExp(`${last}: stored`));

      const snaps = JSON.parse(
        repo('--json', '-r', path.join(job, 'repo'), '--password-file', path.join(job, 'repo.pass'), 'snapshots').out,
      ) as { paths: string[]; tags: string[] }[];
      const wal = snaps.filter((s) => s.tags.includes('pg-wal')).map((s) => s.paths[0].slice(1));
      expect(wal).toContain(last);
      expect(snaps.filter((s) => s.paths[0] === '/postgresql-postgres.basebackup.tar')).toHaveLength(1);

      const tooEarly = repo(
        'pg',
        'restore',
        '--profile',
        'pg',
        '--config',
        cfg,
        '--target-time',
        '2000-01-01 00:00:00+00',
        '--into',
        path.join(dir, 'never'),
      );
      expect(tooEarly.code).toBe(1);
      expect(tooEarly.err).toMatch(
        /no base backup ended before 2000-01-01 00:00:00\+00: the earliest time that can be recovered is \d{4}-/,
      );

      const into = path.join(dir, 'restored');
      const restore = repo(
        'pg',
        'restore',
        '--profile',
        'pg',
        '--config',
        cfg,
        '--target-time',
        target,
        '--into',
        into,
      );
      expect(restore.code, restore.err).toBe(0);
      expect(restore.out).toContain('pg_ctl -D');
      expect(fs.existsSync(path.join(into, 'recovery.signal'))).toBe(true);
      expect(fs.readFileSync(path.join(into, 'postgresql.auto.conf'), 'utf8')).toContain(
        `recovery_target_time = '${target}'`,
      );

      const port2 = await freePort();
      startServer(into, port2, '-c archive_mode=off');
      await until('the end of recovery', () => psql(port2, 'SELECT pg_is_in_recovery()') === 'f', 120);
      expect(psql(port2, "SELECT string_agg(id::text, ',' ORDER BY id) FROM ledger")).toBe('1,2');
      const log = fs.readFileSync(`${into}.log`, 'utf8');
      expect(log).toMatch(/restored log file "[0-9A-F]{24}" from archive/);
      expect(log).toMatch(/recovery stopping before commit of transaction/);
    }, 300_000);

    it('LSN, XID and restore-point targets between two base backups lay down the older one and reach the target', async () => {
      const rp = ['-r', path.join(job, 'repo'), '--password-file', path.join(job, 'repo.pass')];
      type Base = { id: string; summary: { pg_stop_lsn?: string; pg_next_xid?: string } };
      const bases = () =>
        JSON.parse(repo('--json', ...rp, 'snapshots', '--path', '/postgresql-postgres.basebackup.tar').out) as Base[];
      const [base1] = bases();
      expect(base1.summary.pg_stop_lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect(base1.summary.pg_next_xid).toMatch(/^\d+$/);
      const xid = psql(port, "INSERT INTO ledger VALUES (4, 'the xid target') RETURNING txid_current()");
      await switchAndArchive();
      psql(port, "INSERT INTO ledger VALUES (5, 'the lsn target')");
      const lsn = psql(port, 'SELECT pg_current_wal_insert_lsn()');
      psql(port, "SELECT pg_create_restore_point('after_row_5')");
      psql(port, "INSERT INTO ledger VALUES (6, 'after the lsn target')");
      await switchAndArchive();
      const second = repo('run', '--config', cfg, 'pg');
      expect(second.code, second.out + second.err).toBe(0);
      psql(port, "INSERT INTO ledger VALUES (7, 'after the second base backup')");
      const late = psql(port, 'SELECT pg_current_wal_insert_lsn()');
      await switchAndArchive();
      const base2 = bases().find((b) => b.id !== base1.id)!;
      expect(BigInt(base2.summary.pg_next_xid!)).toBeGreaterThan(BigInt(xid));

      const restore = (into: string, ...targetArgs: string[]) => {
        const r = repo('--json', 'pg', 'restore', '--profile', 'pg', '--config', cfg, ...targetArgs, '--into', into);
        expect(r.code, r.err).toBe(0);
        return { chosen: (JSON.parse(r.out) as { base_snapshot: string }).base_snapshot, err: r.err };
      };
      const cases: [string[], string][] = [
        [['--target-xid', xid], '1,2,3,4'],
        [['--target-lsn', lsn], '1,2,3,4,5'],
      ];
      for (const [args, rows] of cases) {
        const into = path.join(dir, `restored${args[0]}`);
        expect(restore(into, ...args).chosen, args.join(' ')).toBe(base1.id);
        const p2 = await freePort();
        startServer(into, p2, '-c archive_mode=off');
        await until('the end of recovery', () => psql(p2, 'SELECT pg_is_in_recovery()') === 'f', 120);
        expect(psql(p2, "SELECT string_agg(id::text, ',' ORDER BY id) FROM ledger"), args.join(' ')).toBe(rows);
        run([path.join(BIN!, 'pg_ctl'), '-D', into, '-m', 'immediate', '-w', 'stop'], false);
      }
      // The restore point is found in the archived WAL: before the second base backup, so the first.
      const named = restore(path.join(dir, 'restored-name'), '--target-name', 'after_row_5');
      expect(named.chosen).toBe(base1.id);
      expect(named.err).not.toContain('not found');
      expect(restore(path.join(dir, 'restored-late'), '--target-lsn', late).chosen).toBe(base2.id);

      const early = repo(
        'pg',
        'restore',
        '--profile',
        'pg',
        '--config',
        cfg,
        '--target-lsn',
        '0/1',
        '--into',
        path.join(dir, 'never'),
      );
      expect(early.code).toBe(1);
      expect(early.err).toContain(`the earliest LSN that can be recovered to is ${base1.summary.pg_stop_lsn}`);
      const earlyXid = repo(
        'pg',
        'restore',
        '--profile',
        'pg',
        '--config',
        cfg,
        '--target-xid',
        '3',
        '--into',
        path.join(dir, 'never'),
      );
      expect(earlyXid.code).toBe(1);
      expect(earlyXid.err).toContain(
        `the earliest transaction id that can be recovered to is ${base1.summary.pg_next_xid}`,
      );

      // The recoveries' wal fetch calls measured the replay rate; status's RTO estimate uses it.
      const st = JSON.parse(
        repo('--json', 'status', '--config', cfg, '--metrics-file', path.join(job, 'metrics.prom'), 'pg').out,
      ).profiles[0];
      expect(st.restore.replay_bytes_per_second).toBeGreaterThan(0);
      expect(st.restore.replay_seconds).toBeGreaterThan(0);
      expect(st.restore.includes).toContain('a recovery measured');
    }, 240_000);

    it('push is idempotent for the same bytes and refuses different bytes; a missing segment fails fetch with 1', async () => {
      const seg = await switchAndArchive();
      const scratch = path.join(dir, 'scratch');
      run(['mkdir', '-p', scratch]);
      const fetched = path.join(scratch, seg);
      const f = repo('wal', 'fetch', '--profile', 'pg', '--config', cfg, seg, fetched);
      expect(f.code, f.err).toBe(0);
      expect(fs.statSync(fetched).size).toBe(16 * 1024 * 1024);

      const again = repo('wal', 'push', '--profile', 'pg', '--config', cfg, fetched);
      expect(again.code, again.err).toBe(0);
      expect(again.out).toContain('already archived with the same content');

      const other = path.join(scratch, 'other');
      run(['mkdir', '-p', other]);
      const changed = fs.readFileSync(fetched);
      changed[100] ^= 0xff;
      const changedPath = path.join(other, seg);
      fs.writeFileSync(changedPath, changed);
      fs.chmodSync(changedPath, 0o644);
      const conflict = repo('wal', 'push', '--profile', 'pg', '--config', cfg, changedPath);
      expect(conflict.code).toBe(1);
      expect(conflict.err).toContain(`WAL file ${seg} is already archived`);
      expect(conflict.err).toContain('with different content');
      const asyncConflict = repo('wal', 'push', '--profile', 'pg', '--config', cfg, '--spool', spool, changedPath);
      expect(asyncConflict.code).toBe(1);
      expect(asyncConflict.err).toContain('with different content');
      expect(asyncConflict.err).toContain('asynchronous push');

      const missingDest = path.join(scratch, 'RECOVERYXLOG');
      const missing = repo('wal', 'fetch', '--profile', 'pg', '--config', cfg, '0000000100000000000000FF', missingDest);
      expect(missing.code).toBe(1);
      expect(missing.err).toContain('0000000100000000000000FF is not archived');
      expect(fs.existsSync(missingDest)).toBe(false);
      expect(fs.readdirSync(scratch).filter((n) => n.includes('.tmp'))).toEqual([]);

      const bad = repo('wal', 'push', '--profile', 'pg', '--config', cfg, path.join(job, 'repo.yaml'));
      expect(bad.code).toBe(1);
      expect(bad.err).toContain('"repo.yaml" is not a WAL file name');

      // An unreachable repository: non-zero (PostgreSQL keeps the segment and retries), nothing created.
      const unreachable = repo('wal', 'push', '--profile', 'gone', '--config', cfg, fetched);
      expect(unreachable.code).toBe(10);
      expect(fs.existsSync(path.join(job, 'no-such-repo'))).toBe(false);
      // The same through a spool: the pusher cannot open the repository, archive_command exits 10, and the
      // profile's healthcheck hears that archiving fails.
      const spool2 = path.join(dir, 'spool-gone');
      const unreachableAsync = repo('wal', 'push', '--profile', 'gone', '--config', cfg, '--spool', spool2, fetched);
      expect(unreachableAsync.code, unreachableAsync.err).toBe(10);
      expect(fs.existsSync(path.join(job, 'no-such-repo'))).toBe(false);
      expect(fs.readdirSync(path.join(spool2, 'acked'))).toEqual([]);
      await until('the healthcheck failure ping', () => pings.some((p) => p.startsWith('POST /ping/gone/fail')), 10);

      const history = repo(
        'wal',
        'fetch',
        '--profile',
        'pg',
        '--config',
        cfg,
        '00000002.history',
        path.join(scratch, 'h'),
      );
      expect(history.code).toBe(1); // PostgreSQL asks for the next timeline's history at every start: "not there" is normal

      // The chain: no gaps from the base backup's start segment; WAL before it can go, the rest stays.
      const status = repo('--json', 'wal', 'status', '--profile', 'pg', '--config', cfg, '--max-age', '1h');
      expect(status.code, status.err).toBe(0);
      const st = JSON.parse(status.out);
      expect(st.gaps).toEqual([]);
      expect(st.newest).toBe(seg);
      expect(st.rpo_seconds).toBeGreaterThanOrEqual(0);
      expect(st.oldest_needed > '000000010000000000000001').toBe(true);
      const forget = repo('--json', 'wal', 'forget', '--profile', 'pg', '--config', cfg);
      expect(forget.code, forget.err).toBe(0);
      const removed = JSON.parse(forget.out).removed as string[];
      expect(removed).toContain('000000010000000000000001');
      expect(removed.every((n) => n < st.oldest_needed)).toBe(true);
      const needed = repo(
        'wal',
        'fetch',
        '--profile',
        'pg',
        '--config',
        cfg,
        st.oldest_needed,
        path.join(scratch, 'needed'),
      );
      expect(needed.code, needed.err).toBe(0);

      // status: the newest segment's age is the profile's RPO of archiving.
      const pst = repo('--json', 'status', '--config', cfg, 'pg');
      const prof = JSON.parse(pst.out).profiles[0];
      expect(prof.wal.newest, pst.err).toBe(seg);
      expect(prof.wal.age_seconds).toBeGreaterThanOrEqual(0);
      expect(prof.wal.gaps).toEqual([]);
      const rp = ['-r', path.join(job, 'repo'), '--password-file', path.join(job, 'repo.pass')];
      const checked = repo(...rp, 'check');
      expect(checked.code, checked.out + checked.err).toBe(0);
      expect(checked.out).toContain(`WAL chain complete from ${st.oldest_needed} to ${seg}`);

      // A needed segment lost from the repository is reported as a gap (exit 2), and by check (exit 1).
      const snaps = JSON.parse(
        repo(
          '--json',
          '-r',
          path.join(job, 'repo'),
          '--password-file',
          path.join(job, 'repo.pass'),
          'snapshots',
          '--tag',
          'pg-wal',
        ).out,
      ) as { id: string; paths: string[] }[];
      const victim = snaps.find((s) => s.paths[0] === '/' + st.oldest_needed)!;
      const gone = repo(
        '-r',
        path.join(job, 'repo'),
        '--password-file',
        path.join(job, 'repo.pass'),
        'forget',
        victim.id,
      );
      expect(gone.code, gone.err).toBe(0);
      const broken = repo('wal', 'status', '--profile', 'pg', '--config', cfg);
      expect(broken.code).toBe(2);
      expect(broken.out).toContain(`chain: MISSING 1 segment(s)`);
      expect(broken.out).toContain(st.oldest_needed.slice(8));
      const checkBroken = repo(...rp, 'check');
      expect(checkBroken.code).toBe(1);
      expect(checkBroken.out).toMatch(/error: host .*: the archived WAL has 1 missing segment\(s\) between/);
      expect(checkBroken.out).toContain(st.oldest_needed.slice(8));
      const statusBroken = JSON.parse(repo('--json', 'status', '--config', cfg, 'pg').out).profiles[0];
      expect(statusBroken.wal.gaps).toEqual([st.oldest_needed.slice(8)]);
    }, 120_000);
  },
);
