// Database dump commands: PostgreSQL pg_dump, MySQL/MariaDB mysqldump, MongoDB mongodump --archive and
// SQLite .dump. Each writes the dump to its standard output, which a job streams into the repository as
// one file of its own snapshot; no temporary file is written. Passwords travel in the environment only.

import { readFile } from 'node:fs/promises';
import { RepoError, errorMessage } from '../core/errors.js';
import { childEnv } from '../core/child-env.js';
import type { DatabaseConfig } from './config.js';

export interface DumpCommand {
  argv: string[];
  env: NodeJS.ProcessEnv;
}

async function readPassword(file: string): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    const i = text.search(/\r?\n/);
    return i < 0 ? text : text.slice(0, i);
  } catch (err) {
    throw new RepoError(
      'INVALID_ARGUMENT',
      `cannot read database password file ${file}: ${errorMessage(err)}`,
      { path: file },
      { cause: err },
    );
  }
}

/**
 * The program and environment that dump `db` to standard output. How to restore each:
 * postgresql: `psql -d NEW -f FILE` (or pg_restore for `options: [-Fc]`); mysql: `mysql NEW < FILE`;
 * mongodb: `mongorestore --archive=FILE`; sqlite: `sqlite3 NEW.db < FILE`.
 */
export async function dumpCommand(db: DatabaseConfig, baseEnv: NodeJS.ProcessEnv = process.env): Promise<DumpCommand> {
  const env: NodeJS.ProcessEnv = childEnv(baseEnv); // the database's password may be added; the repository's never
  const password = db.passwordFile === undefined ? undefined : await readPassword(db.passwordFile);
  if (db.command !== undefined) {
    if (password !== undefined) env.REPO_DB_PASSWORD = password;
    return { argv: db.command, env };
  }
  switch (db.type) {
    case 'postgresql': {
      if (db.mode === 'physical') {
        const argv = basebackupArgv(db);
        if (password !== undefined) env.PGPASSWORD = password;
        return { argv, env };
      }
      const argv = ['pg_dump', '--no-password'];
      if (db.host !== undefined) argv.push('--host', db.host);
      if (db.port !== undefined) argv.push('--port', String(db.port));
      if (db.user !== undefined) argv.push('--username', db.user);
      argv.push(...db.options, '--dbname', db.name);
      if (password !== undefined) env.PGPASSWORD = password;
      return { argv, env };
    }
    case 'mysql': {
      const argv = ['mysqldump', '--single-transaction', '--routines', '--triggers', '--events'];
      if (db.host !== undefined) argv.push('--host', db.host);
      if (db.port !== undefined) argv.push('--port', String(db.port));
      if (db.user !== undefined) argv.push('--user', db.user);
      argv.push(...db.options, '--', db.name);
      if (password !== undefined) env.MYSQL_PWD = password;
      return { argv, env };
    }
    case 'mongodb': {
      const argv = ['mongodump', '--archive', '--db', db.name];
      if (db.host !== undefined) argv.push('--host', db.host);
      if (db.port !== undefined) argv.push('--port', String(db.port));
      if (db.user !== undefined) argv.push('--username', db.user);
      if (password !== undefined) {
        // mongodump takes a password only on its command line (visible to every local user) or in its own
        // --config file: refuse rather than leak it.
        throw new RepoError(
          'INVALID_ARGUMENT',
          `database ${db.name}: mongodump cannot take a password from the environment; put "password: …" into a file readable by this user only and pass options: ["--config=FILE"] instead of password-file`,
        );
      }
      argv.push(...db.options);
      return { argv, env };
    }
    case 'sqlite':
      // .dump (SQL text) rather than .backup: .backup writes a database file, which needs a seekable
      // destination, i.e. a temporary file; .dump streams and reads one consistent transaction.
      return { argv: ['sqlite3', '-bail', ...db.options, db.name, '.dump'], env };
  }
}

/**
 * A physical base backup as one tar stream on standard output (`-D - -Ft`), with the WAL it needs to be
 * consistent inside (`-X fetch`): it restores without the archive. `--checkpoint=fast` so a nightly job
 * does not wait for the next scheduled checkpoint. Only the main tablespace: `-D -` refuses others.
 */
function basebackupArgv(db: DatabaseConfig): string[] {
  const argv = [
    'pg_basebackup',
    '--no-password',
    '--pgdata=-',
    '--format=tar',
    '--wal-method=fetch',
    '--checkpoint=fast',
  ];
  if (db.host !== undefined) argv.push('--host', db.host);
  if (db.port !== undefined) argv.push('--port', String(db.port));
  if (db.user !== undefined) argv.push('--username', db.user);
  argv.push(...db.options);
  return argv;
}
