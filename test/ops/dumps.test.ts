// Dump commands: the right program and arguments per database type, passwords only in the environment.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/ops/config.js';
import { dumpCommand } from '../../src/ops/dumps.js';
import { LocalBackend } from '../../src/backend/local.js';
import { runProfile } from '../../src/ops/profile-runner.js';
import { Repository } from '../../src/repository/repository.js';
import { findSnapshot } from '../../src/snapshot/snapshot.js';
import { loadTree } from '../../src/tree/tree-store.js';
import { localRepo, PASSWORD, tempDir } from '../helpers/repo.js';

describe('dump commands', () => {
  const dir = tempDir('repo-dumps-');
  const pw = path.join(dir, 'db.pass');
  fs.writeFileSync(pw, 's3cret\nignored\n');
  const dbs = parseConfig(
    `profiles:
  db:
    repository: /r
    databases:
      - { type: postgresql, name: app, host: db.local, port: 5433, user: backup, password-file: ${pw}, options: ["--format=custom"] }
      - { type: mariadb, name: shop, host: 127.0.0.1, user: root, password-file: ${pw} }
      - { type: mongodb, name: events, host: 127.0.0.1, port: 27017 }
      - { type: sqlite, name: ${dir}/app.db }
      - { type: postgresql, name: other, filename: other.dump, command: ["/usr/local/bin/my-dump", "--all"], password-file: ${pw} }
`,
    path.join(dir, 'repo.yaml'),
  ).profiles.get('db')!.databases;

  it('names each dump file after its type and database', () => {
    expect(dbs.map((d) => d.filename)).toEqual([
      'postgresql-app.sql',
      'mysql-shop.sql',
      'mongodb-events.archive',
      'sqlite-app.sql',
      'other.dump',
    ]);
  });

  it('builds the dump program line with the password in the environment only', async () => {
    const env = { PATH: '/usr/bin' };
    const pg = await dumpCommand(dbs[0], env);
    expect(pg.argv).toEqual([
      'pg_dump',
      '--no-password',
      '--host',
      'db.local',
      '--port',
      '5433',
      '--username',
      'backup',
      '--format=custom',
      '--dbname',
      'app',
    ]);
    expect(pg.env.PGPASSWORD).toBe('s3cret');
    const my = await dumpCommand(dbs[1], env);
    expect(my.argv).toEqual([
      'mysqldump',
      '--single-transaction',
      '--routines',
      '--triggers',
      '--events',
      '--host',
      '127.0.0.1',
      '--user',
      'root',
      '--',
      'shop',
    ]);
    expect(my.env.MYSQL_PWD).toBe('s3cret');
    expect((await dumpCommand(dbs[2], env)).argv).toEqual([
      'mongodump',
      '--archive',
      '--db',
      'events',
      '--host',
      '127.0.0.1',
      '--port',
      '27017',
    ]);
    expect((await dumpCommand(dbs[3], env)).argv).toEqual(['sqlite3', '-bail', path.join(dir, 'app.db'), '.dump']);
    const custom = await dumpCommand(dbs[4], env);
    expect(custom.argv).toEqual(['/usr/local/bin/my-dump', '--all']);
    expect(custom.env.REPO_DB_PASSWORD).toBe('s3cret');
    for (const c of [pg, my, custom]) expect(c.argv.join(' ')).not.toContain('s3cret');
  });
});

const hasSqlite = (() => {
  try {
    return execFileSync('sqlite3', ['-version'], { encoding: 'utf8' }).length > 0;
  } catch {
    return false;
  }
})();

describe.skipIf(!hasSqlite)('sqlite dump through runProfile (library)', () => {
  it('streams .dump into its own snapshot; the dump rebuilds an identical database', async () => {
    const dir = tempDir('repo-sqlite-');
    const db = path.join(dir, 'app.db');
    execFileSync('sqlite3', [db], {
      input:
        "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 500) INSERT INTO t SELECT i, 'row ' || i FROM n;",
    });
    const repo = await localRepo(path.join(dir, 'repo'));
    await repo.close();
    const profile = parseConfig(
      `profiles:\n  lite:\n    repository: ./repo\n    databases: [{ type: sqlite, name: ./app.db }]\n`,
      path.join(dir, 'repo.yaml'),
    ).profiles.get('lite')!;
    const res = await runProfile(profile, { env: { ...process.env, REPO_PASSWORD: PASSWORD }, stateDir: null });
    expect(res.status, res.log.join('\n')).toBe('success');
    expect(res.snapshots.length).toBe(1);
    const r = await Repository.open(await LocalBackend.open(path.join(dir, 'repo')), PASSWORD);
    const sn = await findSnapshot(r, 'latest');
    expect(sn.paths).toEqual(['/sqlite-app.sql']);
    const tree = await loadTree(r, sn.tree);
    const parts: Buffer[] = [];
    for (const c of tree.nodes[0].content ?? []) parts.push(await r.loadBlob('data', Buffer.from(c, 'hex')));
    await r.close();
    const restored = path.join(dir, 'restored.db');
    execFileSync('sqlite3', [restored], { input: Buffer.concat(parts) });
    const q = (f: string) =>
      execFileSync('sqlite3', [f, 'SELECT count(*), sum(id), group_concat(v) FROM t'], { encoding: 'utf8' });
    expect(q(restored)).toBe(q(db));
  });
});
