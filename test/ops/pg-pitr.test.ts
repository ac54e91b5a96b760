// The pure parts of PostgreSQL PITR: the `mode: physical` entry and its pg_basebackup command, WAL file
// names, target times, and which base backup a target needs. The real server runs in test/long/postgres-pitr.

import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/ops/config.js';
import { dumpCommand } from '../../src/ops/dumps.js';
import { chooseBase, parseTargetTime, physicalDatabase } from '../../src/ops/pg-restore.js';
import { isWalName } from '../../src/ops/pg-wal.js';
import type { StoredSnapshot } from '../../src/snapshot/snapshot.js';

const yaml = (mode: string, type = 'postgresql') => `profiles:
  db:
    repository: /srv/db
    password-file: /etc/repo/db.pass
    databases:
      - { type: ${type}, name: app, host: 127.0.0.1, port: 5433, user: backup, mode: ${mode} }
`;

describe('PostgreSQL point-in-time recovery', () => {
  it('a physical entry streams pg_basebackup as a tar with its WAL into postgresql-NAME.basebackup.tar', async () => {
    const p = parseConfig(yaml('physical')).profiles.get('db')!;
    expect(p.databases[0]).toMatchObject({ mode: 'physical', filename: 'postgresql-app.basebackup.tar' });
    expect(physicalDatabase(p).name).toBe('app');
    const cmd = await dumpCommand(p.databases[0], {});
    expect(cmd.argv).toEqual([
      'pg_basebackup',
      '--no-password',
      '--pgdata=-',
      '--format=tar',
      '--wal-method=fetch',
      '--checkpoint=fast',
      '--host',
      '127.0.0.1',
      '--port',
      '5433',
      '--username',
      'backup',
    ]);
    const logical = parseConfig(yaml('logical')).profiles.get('db')!;
    expect(logical.databases[0].filename).toBe('postgresql-app.sql');
    expect(() => physicalDatabase(logical)).toThrow(/no postgresql database entry with "mode: physical"/);
  });

  it('refuses another mode, and physical for anything but postgresql', () => {
    for (const [m, t] of [
      ['snapshot', 'postgresql'],
      ['physical', 'mysql'],
    ]) {
      try {
        parseConfig(yaml(m, t));
        throw new Error('expected a ConfigError');
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).issues.map((i) => i.path)).toEqual(['profiles.db.databases[0].mode']);
      }
    }
  });

  it('knows WAL file names from anything else', () => {
    for (const ok of [
      '000000010000000000000003',
      '00000002.history',
      '000000010000000000000003.00000028.backup',
      '000000010000000000000003.partial',
    ])
      expect(isWalName(ok), ok).toBe(true);
    for (const bad of [
      '00000001000000000000003',
      '0000000100000000000000g3',
      '../000000010000000000000003',
      'RECOVERYXLOG',
      '00000002.History',
      '',
    ])
      expect(isWalName(bad), bad).toBe(false);
  });

  it('reads target times with and without an offset', () => {
    expect(parseTargetTime('2026-12-02 10:15:00+00').toISOString()).toBe('2026-12-02T10:15:00.000Z');
    expect(parseTargetTime('2026-12-02 10:15:00.123456+02').toISOString()).toBe('2026-12-02T08:15:00.123Z');
    expect(parseTargetTime('2026-12-02T10:15Z').toISOString()).toBe('2026-12-02T10:15:00.000Z');
    expect(parseTargetTime('2026-12-02 10:15:00').getTime()).toBe(new Date(2026, 11, 2, 10, 15, 0).getTime());
    expect(() => parseTargetTime('yesterday')).toThrow(/expected "YYYY-MM-DD HH:MM\[:SS\]"/);
  });

  it('picks the newest base backup that ended before the target, and names the earliest time when there is none', () => {
    const base = (id: string, end: string) =>
      ({ id, time: end, summary: { backup_end: end } }) as unknown as StoredSnapshot;
    const bases = [base('a', '2026-12-01T02:30:10Z'), base('b', '2026-12-02T02:30:10Z')];
    const at = (t: string) => ({ kind: 'time' as const, text: t, at: new Date(t) });
    expect(chooseBase(bases, at('2026-12-02T02:30:09Z'), 'db').id).toBe('a');
    expect(chooseBase(bases, at('2026-12-02T02:30:10Z'), 'db').id).toBe('b');
    expect(chooseBase(bases, { kind: 'latest' }, 'db').id).toBe('b');
    expect(() => chooseBase(bases, at('2026-11-30T00:00:00Z'), 'db')).toThrow(
      'the earliest time that can be recovered is 2026-12-01T02:30:10.000Z',
    );
    expect(() => chooseBase([], { kind: 'latest' }, 'db')).toThrow(/has no base backup yet/);
  });
});
