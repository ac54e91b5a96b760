// `repo generate`: the completion scripts complete in real bash, zsh and fish (installed by .ci/run), and the
// man pages render with groff without warnings, one per command.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/repo.js';

let dir: string;
const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

beforeAll(async () => {
  dir = tempDir('repo-generate-');
  const r = await runCli([
    'generate',
    '--bash-completion',
    path.join(dir, 'repo.bash'),
    '--zsh-completion',
    path.join(dir, '_repo'),
    '--fish-completion',
    path.join(dir, 'repo.fish'),
    '--man',
    path.join(dir, 'man'),
  ]);
  if (r.code !== 0) throw new Error(r.stderr);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** What bash's completion function offers for the words typed (the last one being completed). */
function bash(line: string): string[] {
  const script = `source ${JSON.stringify(path.join(dir, 'repo.bash'))}
COMP_WORDS=(${line
    .split(' ')
    .map((w) => `'${w}'`)
    .join(' ')}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _repo; printf '%s\\n' "\${COMPREPLY[@]}"`;
  return execFileSync('bash', ['-c', script], { encoding: 'utf8', cwd: dir }).split('\n').filter(Boolean);
}

describe('repo generate', () => {
  it("bash completes commands, subcommands, a command's options and the global ones, and files after that", () => {
    expect(bash('repo ba')).toEqual(['backup']);
    expect(bash('repo key a')).toEqual(['add']);
    expect(bash('repo -r /srv/x rep')).toEqual(['repair', 'report']);
    expect(bash('repo backup --exclude-')).toEqual([
      '--exclude-file',
      '--exclude-if-present',
      '--exclude-caches',
      '--exclude-larger-than',
    ]);
    expect(bash('repo backup --password-')).toEqual(['--password-file', '--password-command']);
    expect(bash('repo --password-')).toEqual(['--password-file', '--password-command']);
    expect(bash('repo restore _r')).toEqual(['_repo']); // a file in the folder
  });

  it.skipIf(!has('zsh'))('zsh offers the same candidates (compsys stood in by print)', () => {
    const script = `compdef() { : }
_describe() { local arr=$4; print -l -- "\${(@P)arr}" }
_files() { print FILES }
source ${JSON.stringify(path.join(dir, '_repo'))}
words=(repo key ''); CURRENT=3; _repo
print SEP
words=(repo backup --ex); CURRENT=3; _repo
print SEP
words=(repo restore x); CURRENT=3; _repo`;
    const [subs, opts, files] = execFileSync('zsh', ['-f', '-c', script], { encoding: 'utf8' }).split('SEP\n');
    expect(
      subs
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(':')[0])
        .sort(),
    ).toEqual(['add', 'export', 'import', 'list', 'passwd', 'remove']);
    expect(opts).toMatch(/^--exclude:exclude paths matching the pattern/m);
    expect(opts).toMatch(/^--repo:repository location/m);
    expect(files.trim()).toBe('FILES');
  });

  it.skipIf(!has('fish'))('fish completes through `complete -C`', () => {
    const out = (line: string) =>
      execFileSync(
        'fish',
        ['--no-config', '-c', `source ${path.join(dir, 'repo.fish')}; complete -C ${JSON.stringify(line)}`],
        { encoding: 'utf8' },
      )
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t')[0]);
    expect(out('repo ba')).toEqual(['backup']);
    expect(out('repo key ').sort()).toEqual(['add', 'export', 'import', 'list', 'passwd', 'remove']);
    expect(out('repo backup --exclude-c')).toEqual(['--exclude-caches']);
  });

  it('writes one man page per command, each rendering without groff warnings', () => {
    const pages = fs.readdirSync(path.join(dir, 'man')).sort();
    expect(pages).toContain('repo.1');
    expect(pages).toContain('repo-backup.1');
    expect(pages).toContain('repo-key-add.1');
    expect(pages).toContain('repo-generate.1');
    expect(pages.length).toBeGreaterThan(30);
    for (const p of pages) {
      const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', path.join(dir, 'man', p)], { encoding: 'utf8' });
      expect(r.stderr, p).toBe('');
      expect(r.status).toBe(0);
    }
    const text = spawnSync('groff', ['-man', '-Tascii', '-P-c', '-P-u', '-P-b', path.join(dir, 'man', 'repo.1')], {
      encoding: 'utf8',
    }).stdout;
    expect(text).toMatch(/Exit codes:/);
    expect(text).toMatch(/--password-file/);
  });

  it('"-" writes a script to standard output; no flag at all is an error naming the flags', async () => {
    const r = await runCli(['generate', '--bash-completion', '-']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^# bash completion for repo/);
    const none = await runCli(['generate']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^repo: nothing to generate: give --bash-completion/);
  });
});
