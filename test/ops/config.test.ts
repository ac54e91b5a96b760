// The operations config (repo.yaml): the issue's example is accepted exactly as written; every error names
// the key path and its line.

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, findConfigFile, loadConfig, parseConfig } from '../../src/ops/config.js';
import { tempDir } from '../helpers/repo.js';
import { EXAMPLE } from './helpers.js';

function issuesOf(text: string, opts: { mode?: number } = {}): ConfigError['issues'] {
  try {
    parseConfig(text, '/etc/repo/repo.yaml', opts);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('repo.yaml', () => {
  it('accepts the example of the issue exactly as written', () => {
    const c = parseConfig(EXAMPLE, '/etc/repo/repo.yaml');
    expect([...c.profiles.keys()]).toEqual(['home', 'postgres']);
    const home = c.profiles.get('home')!;
    expect(home.repository).toBe('/srv/backups/home');
    expect(home.passwordFile).toBe('/etc/repo/home.pass');
    expect(home.sources).toEqual(['/home']);
    expect(home.exclude).toEqual(['*.tmp', 'node_modules']);
    expect(home.tags).toEqual(['home']);
    expect(home.retention?.policy).toEqual({ daily: 30, weekly: 26, monthly: 84 });
    expect(home.retention?.prune).toBe(true);
    expect(home.schedule).toBe('0 * * * *');
    expect(home.window).toEqual({ text: '00:00-23:59', start: 0, end: 23 * 60 + 59 });
    expect(home.objectives.rpoMs).toBe(3_600_000);
    expect(home.objectives.rtoMs).toBe(4 * 3_600_000);
    expect(home.hooks.before).toEqual(['sync']);
    expect(home.hooks.onFailure).toEqual(['logger repo backup failed']);
    expect(home.monitoring.healthcheck).toBe('https://hc.example.com/ping/UUID');
    expect(home.copyTo).toEqual([{ repository: 's3:https://s3.example.com/bucket/home', retention: true }]);
    expect(home.check).toMatchObject({
      subset: { kind: 'percent', percent: 5 },
      subsetText: '5%',
      everyMs: 7 * 86_400_000,
      readData: false,
    });
    expect(home.retention?.maxUnused).toBeUndefined();
    const pg = c.profiles.get('postgres')!;
    expect(pg.databases).toEqual([
      {
        type: 'postgresql',
        name: 'app',
        host: '127.0.0.1',
        port: 5432,
        user: 'backup',
        options: [],
        filename: 'postgresql-app.sql',
      },
    ]);
    expect(pg.schedule).toBe('30 2 * * *');
    expect(pg.retention?.policy).toEqual({ daily: 7, monthly: 12 });
  });

  it('names the key and the line of an invalid value', () => {
    const bad = EXAMPLE.replace('keep-weekly: 26', 'keep-weekly: lots')
      .replace('rpo: 1h', 'rpo: 1 hour')
      .replace('"30 2 * * *"', '"30 25 * * *"');
    const issues = issuesOf(bad);
    expect(issues.map((i) => [i.path, i.line])).toEqual([
      ['profiles.home.retention.keep-weekly', 8],
      ['profiles.home.objectives.rpo', 11],
      ['profiles.postgres.schedule', 21],
    ]);
    expect(issues[0].message).toMatch(/lots/);
    expect(issues[2].message).toMatch(/cron/);
    try {
      parseConfig(bad, '/etc/repo/repo.yaml');
    } catch (err) {
      const msg = (err as Error).message;
      expect(msg).toContain('repo.yaml:8:');
      expect(msg).toContain('profiles.home.retention.keep-weekly');
    }
  });

  it('rejects unknown keys with a suggestion, snake_case with the kebab-case name', () => {
    const issues = issuesOf(
      EXAMPLE.replace('password-file: /etc/repo/db.pass', 'password_file: /etc/repo/db.pass').replace(
        'tags: [home]',
        'tagz: [home]',
      ),
    );
    expect(issues.map((i) => [i.path, i.line])).toEqual([
      ['profiles.home.tagz', 7],
      ['profiles.postgres.password_file', 18],
    ]);
    expect(issues[0].message).toContain('did you mean "tags"');
    expect(issues[1].message).toContain('"password-file"');
  });

  it('reports missing keys, bad database types, URLs and windows', () => {
    const text = `profiles:
  x:
    sources: [/a]
    window: "25:00-26:00"
    databases:
      - { type: oracle, name: app }
    monitoring: { healthcheck: "ftp://x" }
`;
    const issues = issuesOf(text);
    const paths = issues.map((i) => i.path);
    expect(paths).toContain('profiles.x.repository');
    expect(paths).toContain('profiles.x.window');
    expect(paths).toContain('profiles.x.databases[0].type');
    expect(paths).toContain('profiles.x.monitoring.healthcheck');
    expect(issues.find((i) => i.path === 'profiles.x.databases[0].type')!.line).toBe(6);
  });

  it('accepts a password in the file only when the file is private', () => {
    const text = 'profiles:\n  a:\n    repository: /r\n    password: secret\n    sources: [/a]\n';
    expect(issuesOf(text, { mode: 0o644 })[0]).toMatchObject({ path: 'profiles.a.password', line: 4 });
    expect(parseConfig(text, 'repo.yaml', { mode: 0o600 }).profiles.get('a')!.password).toBe('secret');
  });

  it('reports YAML syntax errors with their line', () => {
    const issues = issuesOf('profiles:\n  a:\n    repository: [unclosed\n');
    expect(issues[0].message).toMatch(/YAML/);
    expect(issues[0].line).toBeGreaterThanOrEqual(3);
  });

  it('is found via --config, REPO_CONFIG, the working directory and the XDG config directory', () => {
    const dir = tempDir('repo-config-');
    const xdg = path.join(dir, 'xdg');
    fs.mkdirSync(path.join(xdg, 'repo'), { recursive: true });
    fs.writeFileSync(path.join(xdg, 'repo', 'repo.yaml'), EXAMPLE);
    const cwd = path.join(dir, 'cwd');
    fs.mkdirSync(cwd);
    const env = { XDG_CONFIG_HOME: xdg, HOME: dir };
    expect(findConfigFile(undefined, env, cwd)).toBe(path.join(xdg, 'repo', 'repo.yaml'));
    fs.writeFileSync(path.join(cwd, 'repo.yaml'), EXAMPLE);
    expect(findConfigFile(undefined, env, cwd)).toBe(path.join(cwd, 'repo.yaml'));
    fs.writeFileSync(path.join(dir, 'other.yaml'), EXAMPLE);
    expect(findConfigFile(undefined, { ...env, REPO_CONFIG: path.join(dir, 'other.yaml') }, cwd)).toBe(
      path.join(dir, 'other.yaml'),
    );
    expect(findConfigFile('other.yaml', env, dir)).toBe(path.join(dir, 'other.yaml'));
    expect(() => findConfigFile('missing.yaml', env, dir)).toThrow(/does not exist/);
  });

  it('resolves relative paths against the config file', () => {
    const dir = tempDir('repo-config-');
    const file = path.join(dir, 'repo.yaml');
    fs.writeFileSync(file, 'profiles:\n  a:\n    repository: ./repo\n    password-file: pass\n    sources: [data]\n', {
      mode: 0o600,
    });
    const p = loadConfig(file).profiles.get('a')!;
    expect(p.repository).toBe(path.join(dir, 'repo'));
    expect(p.passwordFile).toBe(path.join(dir, 'pass'));
    expect(p.sources).toEqual([path.join(dir, 'data')]);
  });
});

describe('repo.yaml schema (zod)', () => {
  it('reports unknown keys at any depth with the keys allowed there, and values parsed once', () => {
    const issues = issuesOf(EXAMPLE.replace('keep-monthly: 84', 'keep-montly: 84').replace('rpo: 1h', 'rpo: 30m'));
    expect(issues.map((i) => [i.path, i.line])).toEqual([
      ['profiles.home.retention.keep-montly', 8],
      ['profiles.home.objectives.rpo', 11],
    ]);
    expect(issues[0].message).toMatch(
      /did you mean "keep-monthly"\?\); allowed here: keep-last, keep-hourly, .*max-unused/,
    );
    expect(issues[1].message).toMatch(/ambiguous duration "30m" for rpo: .*write 30min for minutes/);
    const ok = parseConfig(
      EXAMPLE.replace('keep-monthly: 84', 'keep-monthly: 84, max-unused: 1.5G, keep-within: 1y2m'),
      '/etc/repo/repo.yaml',
    );
    expect(ok.profiles.get('home')!.retention).toMatchObject({
      maxUnused: { kind: 'bytes', value: 1.5 * 1024 ** 3 },
      policy: { within: { years: 1, months: 2, days: 0, hours: 0 } },
    });
  });

  it('checks env, env-file and the no-cache keys', () => {
    const text =
      'profiles:\n  a:\n    repository: /r\n    sources: [/a]\n    env: { AWS_REGION: eu-1, 1BAD: x, REPO_PASSWORD: y }\n    no-cache: yes please\n';
    const issues = issuesOf(text);
    expect(issues.map((i) => i.path)).toEqual([
      'profiles.a.env.1BAD',
      'profiles.a.env.REPO_PASSWORD',
      'profiles.a.no-cache',
    ]);
    expect(issues[2].message).toBe('expected true or false, got "yes please"');
    const p = parseConfig(
      text.replace(', 1BAD: x, REPO_PASSWORD: y', ', PORT: 9000').replace('yes please', 'true'),
      '/etc/repo/repo.yaml',
    ).profiles.get('a')!;
    expect(p.env).toEqual({ AWS_REGION: 'eu-1', PORT: '9000' });
    expect(p.noCache).toBe(true);
  });

  it('is published as JSON Schema with every key, closed objects and the required repository', async () => {
    const { configJsonSchema } = await import('../../src/ops/config.js');
    const s = configJsonSchema() as any;
    const profile = s.properties.profiles.additionalProperties;
    expect(s.additionalProperties).toBe(false);
    expect(profile.additionalProperties).toBe(false);
    expect(profile.required).toEqual(['repository']);
    expect(Object.keys(profile.properties)).toEqual(
      expect.arrayContaining(['repository', 'retention', 'check', 'objectives', 'env', 'env-file', 'cache-dir']),
    );
    expect(Object.keys(profile.properties.retention.properties)).toContain('keep-within-daily');
  });
});
