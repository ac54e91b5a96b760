// Golden files for every --json shape: each command's JSON lines reduced to their shape (keys, value types,
// and the values of enum-like keys such as message_type) and compared with test/e2e/json-golden/*.json, so
// a changed JSON shape fails `npm test` (update deliberately with `npx vitest run -u`). Also asserts the one
// convention README promises: snake_case keys and a message_type on every object a command prints.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';

const PASSWORD = 'json shapes password';
let tmp: string;
let repo: string;
let src: string;
const env = () => ({
  REPO_CACHE_DIR: path.join(tmp, 'cache'),
  REPO_STATE_DIR: path.join(tmp, 'state'),
  REPO_PROGRESS_FPS: '20',
});

async function run(args: string[], opts: { input?: string; code?: number; noRepo?: boolean } = {}): Promise<CliResult> {
  const r = await runCli(opts.noRepo ? args : ['-r', repo, ...args], {
    password: PASSWORD,
    cwd: tmp,
    env: env(),
    input: opts.input,
  });
  if (r.code !== (opts.code ?? 0)) throw new Error(`repo ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r;
}

const lines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as unknown);

/** Keys whose values are part of the shape (a fixed vocabulary), not data. */
const ENUM_KEYS = new Set([
  'message_type',
  'struct_type',
  'action',
  'during',
  'modifier',
  'type',
  'mode',
  'objective',
  'kind',
  'result',
]);

type Shape = string | Shape[] | { [k: string]: Shape };

function shapeOf(v: unknown, key = ''): Shape {
  if (v === null) return 'null';
  if (Array.isArray(v)) {
    const seen = new Map<string, Shape>();
    for (const e of v) {
      const s = shapeOf(e);
      seen.set(JSON.stringify(s), s);
    }
    return [...seen.values()];
  }
  if (typeof v === 'object') {
    const o: Record<string, Shape> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) o[k] = shapeOf(x, k);
    return o;
  }
  if (typeof v === 'string' && ENUM_KEYS.has(key)) return `"${v}"`;
  return typeof v;
}

/**
 * The shapes of a stream of JSON lines, in an order that does not depend on timing: the last status line
 * (how many come before it depends on the machine's speed), each distinct verbose_status shape (files are
 * read concurrently), then the other lines in the order printed, a run of equal shapes counted once.
 */
function streamShape(values: unknown[]): Shape[] {
  const typeOf = (v: unknown) => (v as { message_type?: string } | null)?.message_type;
  const lastStatus = values.filter((v) => typeOf(v) === 'status').slice(-1);
  const verbose = new Map<string, Shape>();
  for (const v of values.filter((x) => typeOf(x) === 'verbose_status'))
    verbose.set(JSON.stringify(shapeOf(v)), shapeOf(v));
  const rest: Shape[] = [];
  for (const v of values.filter((x) => typeOf(x) !== 'status' && typeOf(x) !== 'verbose_status')) {
    const sh = shapeOf(v);
    if (rest.length === 0 || JSON.stringify(rest[rest.length - 1]) !== JSON.stringify(sh)) rest.push(sh);
  }
  return [...lastStatus.map((v) => shapeOf(v)), ...[...verbose.keys()].sort().map((k) => verbose.get(k)!), ...rest];
}

/** restic's own camelCase keys (`key list --json`), kept so that scripts written for restic read them. */
const RESTIC_CAMEL_CASE = new Set(['userName', 'hostName']);

/** Every key snake_case, in objects at any depth. */
function badKeys(v: unknown, at = '$'): string[] {
  if (Array.isArray(v)) return v.flatMap((e, i) => badKeys(e, `${at}[${i}]`));
  if (v === null || typeof v !== 'object') return [];
  return Object.entries(v as Record<string, unknown>).flatMap(([k, x]) => [
    ...(/^[a-z][a-z0-9_]*$/.test(k) || RESTIC_CAMEL_CASE.has(k) ? [] : [`${at}.${k}`]),
    ...badKeys(x, `${at}.${k}`),
  ]);
}

/** Every object a command prints (each line, or each element of an array it prints) names its message_type. */
function missingType(values: unknown[]): unknown[] {
  return values
    .flatMap((v) => (Array.isArray(v) ? v : [v]))
    .filter((o) => typeof (o as { message_type?: unknown })?.message_type !== 'string');
}

const shapes = new Map<string, { stdout: Shape[]; stderr: Shape[] }>();
const raw = new Map<string, unknown[]>();

async function record(
  name: string,
  args: string[],
  opts: { input?: string; code?: number; noRepo?: boolean } = {},
): Promise<CliResult> {
  const r = await run(['--json', ...args], opts);
  const out = lines(r.out);
  const errLines = r.stderr.split('\n').filter((l) => l.startsWith('{'));
  const err = lines(errLines.join('\n'));
  shapes.set(name, { stdout: streamShape(out), stderr: streamShape(err) });
  raw.set(name, [...out, ...err]);
  return r;
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-json-shapes-'));
  repo = path.join(tmp, 'repo');
  src = path.join(tmp, 'src');
  fs.mkdirSync(path.join(src, 'docs'), { recursive: true });
  fs.mkdirSync(path.join(src, 'gone'), { recursive: true });
  fs.writeFileSync(path.join(src, 'big.bin'), Buffer.alloc(700_000, 7));
  fs.writeFileSync(path.join(src, 'docs', 'a.txt'), 'version one\n');
  fs.writeFileSync(path.join(src, 'gone', 'b.txt'), 'bye\n');
  fs.writeFileSync(path.join(tmp, 'newpass'), 'another password\n');
  // A tag file whose header is wrong: the backup warns about it (an error line under --json).
  fs.mkdirSync(path.join(src, 'tagged'));
  fs.writeFileSync(path.join(src, 'tagged', 'NOBACKUP'), 'a header that is not the expected one');
  fs.writeFileSync(path.join(src, 'tagged', 'kept.txt'), 'kept\n');
  fs.writeFileSync(
    path.join(tmp, 'repo.yaml'),
    `profiles:\n  home:\n    repository: ${repo}\n    password-command: "echo '${PASSWORD}'"\n    sources: [${src}]\n    objectives: { rpo: 1d }\n`,
  );

  await record('version', ['version'], { noRepo: true });
  await record('init', ['init']);
  await record('backup', ['-v', 'backup', 'src', '--exclude-if-present', 'NOBACKUP:expected header']);
  fs.writeFileSync(path.join(src, 'docs', 'a.txt'), 'version two\n');
  fs.writeFileSync(path.join(src, 'docs', 'new.txt'), 'new\n');
  fs.rmSync(path.join(src, 'gone'), { recursive: true });
  await record('backup-changes', ['-v', 'backup', 'src']);
  await record('backup-dry-run', ['backup', '--dry-run', 'src']);
  await record('backup-stdin', ['backup', '--stdin', '--stdin-filename', 'in.txt'], { input: 'streamed\n' });
  await record('snapshots', ['snapshots']);
  await record('ls', ['ls', 'latest']);
  await record('stats', ['stats']);
  await record('stats-raw-data', ['stats', '--mode', 'raw-data']);
  const ids = (raw.get('snapshots')![0] as { id: string }[]).map((s) => s.id);
  await record('diff', ['diff', ids[0], ids[1]]);
  await record('find', ['find', '*.txt']);
  await record('tag', ['tag', '--add', 'golden', ids[0]]);
  await record('analyze', ['analyze', path.join(src, 'docs')]);
  await record('restore', ['restore', 'latest', '--target', path.join(tmp, 'out')]);
  await record('restore-dry-run', ['restore', 'latest', '--target', path.join(tmp, 'out2'), '--dry-run']);
  await record('check', ['check']);
  await record('check-read-data', ['check', '--read-data']);
  await record('forget-dry-run', ['forget', '--keep-last', '2', '--dry-run']);
  await record('forget', ['forget', '--keep-last', '2']);
  await record('prune-dry-run', ['prune', '--dry-run']);
  await record('prune', ['prune']);
  await record('repair-index', ['repair', 'index']);
  await record('repair-snapshots', ['repair', 'snapshots', '--dry-run']);
  await record('key-list', ['key', 'list']);
  await record('key-add', ['key', 'add', '--new-password-file', path.join(tmp, 'newpass')]);
  await record('unlock', ['unlock']);
  await run(['-r', path.join(tmp, 'copy'), 'init']);
  const copy = await runCli(['-r', path.join(tmp, 'copy'), '--json', 'copy', '--from-repo', repo], {
    password: PASSWORD,
    cwd: tmp,
    env: { ...env(), REPO_FROM_PASSWORD: PASSWORD },
  });
  expect(copy.code, copy.stderr).toBe(0);
  shapes.set('copy', { stdout: streamShape(lines(copy.out)), stderr: [] });
  raw.set('copy', lines(copy.out));
  await record('log', ['log']);
  await record('run', ['run', 'home', '--config', path.join(tmp, 'repo.yaml')], { noRepo: true });
  await record('status', ['status', '--config', path.join(tmp, 'repo.yaml')], { noRepo: true });
  await record('error-fatal', ['backup', path.join(tmp, 'does-not-exist')], { code: 1 });
  await record('error-usage', ['no-such-command'], { code: 1, noRepo: true });
}, 240_000);

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('--json output', () => {
  it('uses snake_case keys and names a message_type on every object', () => {
    const problems: string[] = [];
    for (const [name, values] of raw) {
      for (const k of badKeys(values)) problems.push(`${name}: key ${k}`);
      for (const o of missingType(values))
        problems.push(`${name}: no message_type in ${JSON.stringify(o).slice(0, 120)}`);
    }
    expect(problems).toEqual([]);
  });

  it('backup streams status lines then the summary, with percent_done within [0, 1] and done <= total', () => {
    const values = raw.get('backup')! as Record<string, unknown>[];
    const status = values.filter((v) => v.message_type === 'status');
    expect(status.length).toBeGreaterThan(0);
    for (const s of status) {
      expect(s.percent_done as number).toBeGreaterThanOrEqual(0);
      expect(s.percent_done as number).toBeLessThanOrEqual(1);
      expect(s.files_done as number).toBeLessThanOrEqual(s.total_files as number);
      expect(s.bytes_done as number).toBeLessThanOrEqual(s.total_bytes as number);
    }
    expect(status.at(-1)).toMatchObject({ percent_done: 1, files_done: 5, total_files: 5 });
    const stdoutTypes = (shapes.get('backup')!.stdout as { message_type: string }[]).map((s) => s.message_type);
    expect(stdoutTypes.at(-1)).toBe('"summary"');
    expect(values.filter((v) => v.message_type === 'error')).toEqual([
      {
        message_type: 'error',
        error: { message: 'invalid signature in exclusion tagfile' },
        during: 'archival',
        item: path.join(src, 'tagged', 'NOBACKUP'),
      },
    ]);
  });

  it('-v lists new, modified and removed entries as verbose_status lines', () => {
    const items = (raw.get('backup-changes')! as Record<string, unknown>[])
      .filter((v) => v.message_type === 'verbose_status')
      .map((v) => `${v.action} ${v.item}`);
    expect(items.sort()).toEqual(
      [
        `modified ${src}/docs/a.txt`,
        `new ${src}/docs/new.txt`,
        `modified ${src}/docs/`,
        `removed ${src}/gone/`,
        `modified ${src}/`,
      ].sort(),
    );
  });

  it('prints errors as JSON lines on stderr', () => {
    expect(raw.get('error-fatal')).toEqual([
      {
        message_type: 'exit_error',
        code: 1,
        message: `cannot back up ${path.join(tmp, 'does-not-exist')}: no such file or directory`,
      },
    ]);
    expect(raw.get('error-usage')).toEqual([
      { message_type: 'exit_error', code: 1, message: "unknown command 'no-such-command'" },
    ]);
  });

  it('keeps every shape as its golden file says', async () => {
    for (const [name, s] of shapes) {
      await expect(JSON.stringify(s, null, 2) + '\n').toMatchFileSnapshot(`./json-golden/${name}.json`);
    }
  });
});
