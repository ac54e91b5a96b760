// What the PostgreSQL tests share: the newest installed server's programs (Debian's `postgresql` package) and
// running them as the postgres user when the tests run as root (initdb refuses root).
import fs from 'node:fs';
import path from 'node:path';

/** The newest installed server's bin directory, e.g. /usr/lib/postgresql/15/bin; undefined without one. */
export function pgBin(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!fs.existsSync(base)) return undefined;
  const versions = fs
    .readdirSync(base)
    .filter((v) => fs.existsSync(path.join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? path.join(base, versions[0], 'bin') : undefined;
}

export const isRoot = process.getuid?.() === 0;

/** argv as the postgres user when we are root, else as it is. */
export const asPostgresArgv = (argv: string[]): string[] =>
  isRoot ? ['runuser', '-u', 'postgres', '--', ...argv] : argv;
