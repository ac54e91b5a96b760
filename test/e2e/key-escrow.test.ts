// Key escrow through the built CLI: `key export --recovery FILE` (mode 0600, never replaced) and `--code`;
// every key file deleted; `key import` from the file or the code adds a key for a new password and the backup
// restores byte for byte; a wrong recovery passphrase is one line and exit 12; a mistyped code is refused.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { compareTrees } from '../helpers/tree-gen.js';

const PW = 'escrow repository password';
let tmp: string;
let src: string;
let repo: string;

async function run(args: string[], password = PW, env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(['-r', repo, ...args], { cwd: tmp, password, env });
}
async function ok(args: string[], password = PW, env: Record<string, string> = {}): Promise<CliResult> {
  const r = await run(args, password, env);
  if (r.code !== 0) throw new Error(`repo ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.out}`);
  return r;
}
function write(name: string, text: string): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, `${text}\n`);
  return p;
}
function deleteAllKeys(): void {
  for (const k of fs.readdirSync(path.join(repo, 'keys'))) fs.rmSync(path.join(repo, 'keys', k));
}
async function restoresIdentically(password: string, target: string): Promise<void> {
  await ok(['restore', 'latest', '--target', target], password);
  const restored = path.join(tmp, target, path.relative('/', src));
  expect(compareTrees(src, restored)).toEqual([]);
}

beforeAll(async () => {
  tmp = tempDir('repo-escrow-');
  src = path.join(tmp, 'src');
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(src, 'big.bin'), randomBuffer(prng(11), 1_500_000));
  fs.writeFileSync(path.join(src, 'sub', 'note.txt'), 'keep me\n');
  repo = path.join(tmp, 'repo');
  await ok(['init']);
  await ok(['backup', src]);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('key export / key import', { timeout: 120_000 }, () => {
  let code: string;
  const recovery = () => path.join(tmp, 'repo.recovery');

  it('exports a recovery file (0600, never replaced) and a checksummed code', async () => {
    const pass = write('recovery-pass.txt', 'a separate recovery passphrase');
    const r = await ok([
      '--json',
      'key',
      'export',
      '--recovery',
      recovery(),
      '--recovery-password-file',
      pass,
      '--code',
    ]);
    const msg = JSON.parse(r.out.trim().split('\n').pop()!);
    expect(msg.message_type).toBe('key_exported');
    code = msg.recovery_code;
    expect(code).toMatch(/^RK1(-[0-9A-Z]{1,5}){22}$/);
    expect(fs.statSync(recovery()).mode & 0o777).toBe(0o600);
    const file = JSON.parse(fs.readFileSync(recovery(), 'utf8'));
    expect(file).toMatchObject({ version: 1, kind: 'repo-recovery', kdf: 'scrypt', repository: msg.repository });
    expect(JSON.stringify(file)).not.toContain('a separate recovery passphrase');
    const again = await run(['key', 'export', '--recovery', recovery(), '--recovery-password-file', pass]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim().split('\n')).toEqual([expect.stringMatching(/already exists/)]);
  });

  it('with every key file gone, a wrong recovery passphrase fails with one line and exit 12', async () => {
    deleteAllKeys();
    const locked = await run(['snapshots']);
    expect(locked.code).not.toBe(0);
    expect(locked.stderr).toMatch(/no key files.*key import/);
    const r = await run([
      'key',
      'import',
      '--recovery',
      recovery(),
      '--recovery-password-file',
      write('wrong.txt', 'not the passphrase'),
      '--new-password-file',
      write('new1.txt', 'new password one'),
    ]);
    expect(r.code).toBe(12);
    expect(r.stderr.trim().split('\n')).toEqual([
      'repo: wrong recovery passphrase: the recovery file does not open with it',
    ]);
    expect(fs.readdirSync(path.join(repo, 'keys'))).toEqual([]);
  });

  it('imports the recovery file: the new password opens the repository and the backup restores byte for byte', async () => {
    const r = await run(
      ['key', 'import', '--recovery', recovery(), '--new-password-file', path.join(tmp, 'new1.txt')],
      PW,
      { REPO_RECOVERY_PASSWORD: 'a separate recovery passphrase' },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readdirSync(path.join(repo, 'keys'))).toHaveLength(1);
    expect((await run(['snapshots'])).code).toBe(12); // the old password's key file is gone for good
    await restoresIdentically('new password one', 'out-file');
    await ok(['check', '--read-data'], 'new password one');
  });

  it('imports the recovery code (case and dashes ignored), and refuses a mistyped one', async () => {
    deleteAllKeys();
    const typo = code.slice(0, 10) + (code[10] === 'A' ? 'B' : 'A') + code.slice(11);
    const bad = await run([
      'key',
      'import',
      '--code-file',
      write('typo.txt', typo),
      '--new-password-file',
      write('new2.txt', 'new password two'),
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toEqual([expect.stringMatching(/mistyped|wrong length/)]);
    await ok([
      'key',
      'import',
      '--code-file',
      write('code.txt', code.toLowerCase().replace(/-/g, ' ')),
      '--new-password-file',
      path.join(tmp, 'new2.txt'),
    ]);
    await restoresIdentically('new password two', 'out-code');
  });

  it('refuses a recovery file of another repository', async () => {
    const other = path.join(tmp, 'other');
    await runCli(['-r', other, 'init'], { password: PW });
    const r = await runCli(
      ['-r', other, 'key', 'import', '--recovery', recovery(), '--new-password-file', path.join(tmp, 'new1.txt')],
      { password: PW, env: { REPO_RECOVERY_PASSWORD: 'a separate recovery passphrase' } },
    );
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/another repository/)]);
  });
});
