// main.ts loads only the modules of the commands named on the command line (README, "Start-up"). Each command
// `repo --help` lists must therefore still be found when it is the only one named: an unknown option is reported
// as such (or a required option is missed first: the command was registered), never as an unknown command. And `repo version`, answered by the
// entry before the program loads, prints what the program's own version command prints.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('loading only the named command', () => {
  it('registers every listed command when it is the only one named', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    const listed = (help.stdout.toString().split(/^Commands:$/m)[1] ?? '').split('\n\n')[0];
    const commands = [...listed.matchAll(/^ {2}([a-z0-9-]+)\b/gm)].map((m) => m[1]).filter((c) => c !== 'help');
    expect(commands.length).toBeGreaterThan(30);
    for (const c of commands) {
      const r = await runCli([c, '--no-such-option-here']);
      expect(r.stderr.toString(), c).toMatch(
        /unknown option '--no-such-option-here'|required option|missing required argument/,
      );
      expect(r.stderr.toString(), c).not.toMatch(/unknown command/);
      expect(r.code, c).toBe(1);
    }
  });

  it('answers version before loading the program, exactly as the program does', async () => {
    const fast = await runCli(['version']);
    const full = await runCli(['-q', 'version']); // not the entry's fast path: the program's own command
    expect(fast.code).toBe(0);
    expect(fast.stdout.toString()).toBe(full.stdout.toString());
    expect((await runCli(['--version'])).stdout.toString()).toBe(fast.stdout.toString());
  });

  it('still reports an unknown command, with a suggestion among all commands', async () => {
    const r = await runCli(['snapshot']);
    expect(r.code).toBe(1);
    expect(r.stderr.toString()).toMatch(/unknown command 'snapshot'/);
    expect(r.stderr.toString()).toMatch(/snapshots/);
  });
});
