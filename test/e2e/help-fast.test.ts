// `repo --help` is answered by the entry from dist/bundle/help.json, which the build describes from the full
// program (src/cli/help-manifest.ts). It must print exactly what the full program prints (dist/bundle/main.js run
// directly), on a pipe and on terminals of other widths, with the same exit codes; and it must not need the
// program at all, or the fast path could silently be the slow one.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliEnv, ROOT } from '../helpers/cli.js';

const BUNDLE = path.join(ROOT, 'dist/bundle');
const ENTRY = path.join(BUNDLE, 'repo.js');
const FULL = path.join(BUNDLE, 'main.js');

function run(script: string, args: string[]) {
  const r = spawnSync(process.execPath, [script, ...args], { env: cliEnv('unused'), encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const hasScript = spawnSync('script', ['--version']).status === 0;

/** Output on a terminal `cols` wide (util-linux `script` gives the command a pseudo-terminal). */
function onTerminal(script: string, args: string[], cols: number): string {
  const cmd = `stty cols ${cols}; '${process.execPath}' '${script}' ${args.join(' ')}`;
  return execFileSync('script', ['-qec', cmd, '/dev/null'], { env: cliEnv('unused'), encoding: 'utf8' });
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-help-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('the overview of all commands, answered without loading them', () => {
  it('prints what the full program prints, with its exit codes', () => {
    for (const args of [['--help'], ['-h'], ['help'], []]) {
      const fast = run(ENTRY, args);
      const full = run(FULL, args);
      expect(fast, args.join(' ')).toEqual(full);
    }
    const help = run(ENTRY, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Commands:$/m);
    expect(help.stdout).toMatch(/^Exit codes:$/m); // the epilog, an addHelpText on the root
    expect(run(ENTRY, []).code).toBe(1); // nothing asked: the overview on stderr, as an error
  });

  it.skipIf(!hasScript)('wraps like the full program on terminals of other widths', () => {
    for (const cols of [50, 120, 200]) {
      const fast = onTerminal(ENTRY, ['--help'], cols);
      expect(fast.split('\n').length).toBeGreaterThan(40);
      expect(fast, `${cols} columns`).toBe(onTerminal(FULL, ['--help'], cols));
    }
  });

  it('needs neither the program nor any command module', () => {
    // The entry alone, beside its description: no main.js, no worker scripts, no node_modules above it.
    for (const f of ['repo.js', 'help.json', 'package.json']) fs.copyFileSync(path.join(BUNDLE, f), path.join(tmp, f));
    const alone = run(path.join(tmp, 'repo.js'), ['--help']);
    expect(alone).toEqual(run(FULL, ['--help']));
    // A named command is not an overview: that needs the program, which is missing here.
    const named = run(path.join(tmp, 'repo.js'), ['snapshots', '--help']);
    expect(named.code).not.toBe(0);
    expect(named.stderr).toMatch(/main\.js/);
  });

  it('says nothing when its reader has gone (repo --help | head)', async () => {
    const child = spawn(process.execPath, [ENTRY, '--help'], { env: cliEnv('unused') });
    child.stdout.destroy(); // closed before the entry writes: its write fails with EPIPE
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('loads the program with require(), not through the ESM loader (which scans all of main.js for exports)', () => {
    const entry = fs.readFileSync(ENTRY, 'utf8');
    expect(entry).toContain('require("./main.js")');
    expect(entry).not.toContain('import("./main.js")');
  });
});
