// The package as a user gets it: `npm pack`, install the tarball into an empty folder, and run README's
// library example there (type-checked against the shipped declarations first), plus the installed `repo` bin.
// Slow (an npm install), hence in the long project; dependencies come from npm's cache when it has them.

import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

let dir: string;
let tarball: string;

/** README's library example, taken from README itself so the test fails when the two drift apart. */
function readmeExample(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Using it as a library'));
  const m = /```js\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('README has no library example');
  return m[1];
}

const run = promisify(execFile);

// Asynchronous on purpose: a blocking install of several minutes starves vitest's own messages.
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-package-'));
  // --ignore-scripts: the tests run after `npm run build`, and pack would otherwise run `prepare` again.
  const { stdout: out } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  tarball = path.join(dir, JSON.parse(out)[0].filename);
  const app = path.join(dir, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify({ name: 'app', version: '1.0.0', type: 'module', private: true }),
  );
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], {
    cwd: app,
    maxBuffer: 64 << 20,
  });
}, 600_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('the published package', () => {
  it('ships the license, no source maps and no references to sources it does not ship', () => {
    const list = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(list).toContain('package/LICENSE');
    expect(list).toContain('package/dist/bundle/repo.js');
    expect(list.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(list.filter((f) => f.startsWith('package/src/'))).toEqual([]);
    const installed = path.join(dir, 'app/node_modules/repo-backup/dist');
    const js = fs.readdirSync(installed, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
    for (const f of js) expect(fs.readFileSync(path.join(installed, f), 'utf8'), f).not.toMatch(/sourceMappingURL/);
  });

  it('installs only runtime dependencies', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'app/node_modules/repo-backup/package.json'), 'utf8'));
    const deps = Object.keys(pkg.dependencies ?? {});
    // Every runtime dependency is imported by the shipped code; nothing only tests use.
    const shipped = fs
      .readdirSync(path.join(dir, 'app/node_modules/repo-backup/dist'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.js'))
      .map((f) => fs.readFileSync(path.join(dir, 'app/node_modules/repo-backup/dist', f), 'utf8'))
      .join('\n');
    for (const d of deps)
      expect(shipped.includes(d), `${d} is a runtime dependency but nothing shipped imports it`).toBe(true);
  });

  it("runs README's library example, type-checked against the shipped declarations", async () => {
    const app = path.join(dir, 'app');
    const body = readmeExample();
    // README promises these are exported too; importing them type-checks that promise.
    const prelude = [
      "import { planForget, computeStats, diffSnapshots, findPaths, tagSnapshots, analyzePaths, applyPolicy } from 'repo-backup';",
      "const password: string = 'package test';",
    ].join('\n');
    const src = path.join(app, 'example.ts');
    // The example's paths, made local to this test's folder.
    const local = body
      .replaceAll("'/srv/backup'", JSON.stringify(path.join(app, 'backup')))
      .replaceAll("'/home/me'", JSON.stringify(path.join(app, 'me')))
      .replaceAll("'/tmp/restore'", JSON.stringify(path.join(app, 'restored')));
    fs.mkdirSync(path.join(app, 'me'));
    fs.writeFileSync(path.join(app, 'me', 'note.txt'), 'hello from the package test\n');
    const used =
      '\nvoid [planForget, computeStats, diffSnapshots, findPaths, tagSnapshots, analyzePaths, applyPolicy];\nconsole.log(JSON.stringify({ snapshotId }));\n';
    fs.writeFileSync(src, prelude + '\n' + local + used);
    const tsc = path.join(ROOT, 'node_modules/.bin/tsc');
    const tscArgs = [
      '--strict',
      '--target',
      'es2022',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--skipLibCheck',
      '--typeRoots',
      path.join(ROOT, 'node_modules/@types'),
      '--types',
      'node',
      src,
    ];
    // Type errors make tsc exit non-zero, which rejects with its output (the message vitest shows).
    await run(tsc, tscArgs, { cwd: app });
    const example = await run(process.execPath, [path.join(app, 'example.js')], {
      cwd: app,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', HOME: app },
    });
    expect(example.stderr).toBe('');
    expect(JSON.parse(example.stdout.trim()).snapshotId).toMatch(/^[0-9a-f]{64}$/);
    const restored = fs
      .readdirSync(path.join(app, 'restored'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('note.txt'));
    expect(restored).toHaveLength(1);
    expect(fs.readFileSync(path.join(app, 'restored', restored[0]), 'utf8')).toBe('hello from the package test\n');
  }, 120_000);

  it('puts a working `repo` on the path of the installing project', () => {
    const bin = path.join(dir, 'app/node_modules/.bin/repo');
    const out = execFileSync(bin, ['version'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    expect(out).toMatch(/^repo \d+\.\d+\.\d+ \(format 2/);
  });
});
