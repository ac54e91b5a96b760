// Database dumps against a real PostgreSQL server started by the test on loopback (Debian's `postgresql`
// package; CI installs it): a profile streams pg_dump into the repository, and the dump restores into a
// fresh database with identical query results; a failing dump fails the job and pings the failure.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.mjs';
import { asPostgresArgv, isRoot, pgBin } from '../helpers/postgres.js';
import { pingPaths, pingServer } from '../ops/helpers.js';

const BIN = pgBin();
/** Runs a server program as the postgres user when we are root (initdb refuses root). */
function asPostgres(argv: string[]): void {
  const cmd = asPostgresArgv(argv);
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
}

let dir = '';
let port = 0;
let dataDir = '';

/** psql against the test server; returns stdout. */
function psql(db: string, sql: string, input?: string): string {
  const args = [
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
    db,
  ];
  const r = spawnSync(path.join(BIN!, 'psql'), input === undefined ? [...args, '-c', sql] : args, {
    encoding: 'utf8',
    input,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  return r.stdout;
}

const SCHEMA = `
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE, created timestamptz NOT NULL,
  balance numeric(12,2), tags text[], profile jsonb);
INSERT INTO customers (name, email, created, balance, tags, profile)
  SELECT 'Kunde ' || i || ' Ærø ' || chr(9731), 'user' || i || '@example.com', timestamptz '2024-01-01 00:00+00' + i * interval '37 minutes',
         i * 1.25, ARRAY['t' || (i % 7), 'x'], jsonb_build_object('i', i, 'pad', repeat('z', i % 40), 'nested', jsonb_build_array(i, i * 2))
  FROM generate_series(1, 3000) AS i;
CREATE TABLE orders (id bigserial PRIMARY KEY, customer int NOT NULL REFERENCES customers(id), amount numeric, note text, payload bytea);
INSERT INTO orders (customer, amount, note, payload)
  SELECT 1 + (i * 7919) % 3000, (i % 997) / 7.0, CASE WHEN i % 5 = 0 THEN NULL ELSE E'line1\\nline2\\t' || i END, sha256(int4send(i))
  FROM generate_series(1, 8000) AS i;
CREATE INDEX orders_customer ON orders (customer);
CREATE VIEW big_spenders AS SELECT c.id, c.name, sum(o.amount) AS total FROM customers c JOIN orders o ON o.customer = c.id GROUP BY c.id, c.name HAVING sum(o.amount) > 300;
CREATE FUNCTION order_count(cid int) RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM orders WHERE customer = cid $$;
SELECT setval('orders_id_seq', 12345);
`;

const QUERIES = [
  'SELECT * FROM customers ORDER BY id',
  'SELECT id, customer, amount, note, encode(payload, $$hex$$) FROM orders ORDER BY id',
  'SELECT * FROM big_spenders ORDER BY id',
  'SELECT order_count(42), order_count(7)',
  'SELECT last_value FROM orders_id_seq',
  "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname",
];

describe.skipIf(BIN === undefined && process.env.CI === undefined)('PostgreSQL dumps (real server on loopback)', () => {
  let server: Awaited<ReturnType<typeof pingServer>>;

  beforeAll(async () => {
    if (BIN === undefined)
      throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql: apt-get install -y postgresql');
    server = await pingServer();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-pg-'));
    fs.chmodSync(dir, 0o755); // the postgres user must reach its directories below
    const pgDir = path.join(dir, 'pg');
    fs.mkdirSync(path.join(pgDir, 'sock'), { recursive: true });
    if (isRoot) spawnSync('chown', ['-R', 'postgres:postgres', pgDir]);
    dataDir = path.join(pgDir, 'data');
    port = await freePort();
    asPostgres([
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
    asPostgres([
      path.join(BIN, 'pg_ctl'),
      '-D',
      dataDir,
      '-l',
      path.join(pgDir, 'server.log'),
      '-o',
      `-p ${port} -k ${path.join(pgDir, 'sock')} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`,
      '-w',
      'start',
    ]);
    psql('postgres', 'CREATE DATABASE app');
    psql('app', '', SCHEMA);
  }, 120_000);

  afterAll(async () => {
    if (dataDir !== '' && fs.existsSync(dataDir)) {
      try {
        asPostgres([path.join(BIN!, 'pg_ctl'), '-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already stopped
      }
    }
    await server?.close();
    if (dir !== '') fs.rmSync(dir, { recursive: true, force: true });
  });

  function setup(profiles: string): {
    cwd: string;
    env: Record<string, string | undefined>;
    cli: (...a: string[]) => ReturnType<typeof runCli>;
  } {
    const cwd = fs.mkdtempSync(path.join(dir, 'job-'));
    fs.writeFileSync(path.join(cwd, 'db.pass'), 'database backups\n', { mode: 0o600 });
    fs.writeFileSync(path.join(cwd, 'repo.yaml'), `profiles:\n${profiles}`);
    const env = {
      REPO_STATE_DIR: path.join(cwd, 'state'),
      REPO_CACHE_DIR: path.join(cwd, 'cache'),
      REPO_PASSWORD: undefined,
    };
    return { cwd, env, cli: (...a: string[]) => runCli(a, { cwd, env }) };
  }

  it('dumps a database into the repository; the dump restores into a fresh database with identical content', async () => {
    server.pings.length = 0;
    const { cwd, cli } = setup(`  postgres:
    repository: ./db-repo
    password-file: ./db.pass
    databases:
      - { type: postgresql, name: app, host: 127.0.0.1, port: ${port}, user: backup }
    schedule: "30 2 * * *"
    retention: { keep-daily: 7, keep-monthly: 12 }
    objectives: { rpo: 1h }
    monitoring: { healthcheck: "${server.url}/ping/pg" }
`);
    expect((await runCli(['-r', path.join(cwd, 'db-repo'), 'init'], { password: 'database backups' })).code).toBe(0);
    const run = await cli('run', 'postgres');
    expect(run.code, run.out + run.stderr).toBe(0);
    expect(run.out).toMatch(
      /pg_dump --no-password --host 127\.0\.0\.1 --port \d+ --username backup --dbname app \| repo backup --stdin-filename postgresql-app\.sql/,
    );
    expect(pingPaths(server.pings)).toEqual(['/ping/pg/start', '/ping/pg']);

    // Only the stream went anywhere: no temporary dump file next to the job.
    expect(fs.readdirSync(cwd).sort()).toEqual(
      ['cache', 'db-repo', 'db.pass', 'repo.yaml', 'state'].filter((f) => fs.existsSync(path.join(cwd, f))).sort(),
    );

    const snaps = JSON.parse(
      (await runCli(['--json', '-r', path.join(cwd, 'db-repo'), 'snapshots'], { password: 'database backups' })).out,
    );
    expect(snaps.map((s: { paths: string[] }) => s.paths)).toEqual([['/postgresql-app.sql']]);
    const dump = await runCli(['-r', path.join(cwd, 'db-repo'), 'dump', 'latest', '/postgresql-app.sql'], {
      password: 'database backups',
    });
    expect(dump.code, dump.stderr).toBe(0);
    expect(dump.out).toContain('PostgreSQL database dump');

    psql('postgres', 'CREATE DATABASE restored');
    psql('restored', '', dump.out);
    for (const q of QUERIES) {
      const a = psql('app', q);
      expect(a.length).toBeGreaterThan(0);
      expect(psql('restored', q), q).toBe(a);
    }
    expect(psql('restored', 'SELECT count(*) FROM orders').trim()).toBe('8000');

    const status = await cli('status', 'postgres');
    expect(status.code, status.out).toBe(0);
    const log = JSON.parse(
      (await runCli(['--json', '-r', path.join(cwd, 'db-repo'), 'log'], { password: 'database backups' })).out,
    );
    // The audit log: the profile's backup and job, and reading the dump back out (by the CLI, no profile).
    const entries = log.entries.filter((e: { operation: string }) => e.operation !== 'init') as {
      operation: string;
      profile?: string;
      snapshots?: { added?: string[]; read?: string[] };
    }[];
    expect(entries.map((e) => `${e.operation}:${e.profile ?? '-'}`)).toEqual([
      'backup:postgres',
      'job:postgres',
      'dump:-',
    ]);
    expect(entries[2].snapshots?.read).toEqual(entries[0].snapshots?.added);
  });

  it('a failing dump fails the job, saves no snapshot of it, and the healthcheck receives the failure with the log tail', async () => {
    server.pings.length = 0;
    const { cwd, cli } = setup(`  broken:
    repository: ./db-repo
    password-file: ./db.pass
    databases:
      - { type: postgresql, name: app, host: 127.0.0.1, port: ${port}, user: backup }
      - { type: postgresql, name: nosuchdb, host: 127.0.0.1, port: ${port}, user: backup }
    hooks: { on-failure: ["echo dump failed: $REPO_ERROR"] }
    monitoring: { healthcheck: "${server.url}/ping/broken", webhook: "${server.url}/hook" }
`);
    expect((await runCli(['-r', path.join(cwd, 'db-repo'), 'init'], { password: 'database backups' })).code).toBe(0);
    const run = await cli('run', 'broken');
    expect(run.code).toBe(1);
    expect(run.out).toContain('database "nosuchdb" does not exist');
    expect(run.out).toMatch(
      /dump failed: dump postgresql nosuchdb: dump of postgresql database nosuchdb: pg_dump exited with code 1/,
    );
    const hc = server.pings.filter((p) => p.path.startsWith('/ping/'));
    expect(pingPaths(hc)).toEqual(['/ping/broken/start', '/ping/broken/fail']);
    expect(hc[1].body).toContain('database "nosuchdb" does not exist');
    const hook = server.pings.filter((p) => p.path === '/hook').map((p) => JSON.parse(p.body));
    expect(hook.map((h) => h.event)).toEqual(['start', 'failure']);
    expect(hook[1].log_tail.join('\n')).toContain('nosuchdb');
    const snaps = JSON.parse(
      (await runCli(['--json', '-r', path.join(cwd, 'db-repo'), 'snapshots'], { password: 'database backups' })).out,
    );
    expect(snaps.map((s: { paths: string[] }) => s.paths)).toEqual([['/postgresql-app.sql']]); // the good one only
  });
});
