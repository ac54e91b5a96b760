// `repo version`: the program version, the repository format version it writes, and the Node.js version.
// Needs no repository and no password.

import type { Command } from 'commander';
import { FORMAT_VERSION, PROGRAM_VERSION, versionLine } from '../core/version.js';
import { Env } from './context.js';

export { versionLine };

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('print version information')
    .action((_opts, cmd: Command) => {
      const env = Env.from(cmd);
      const version = PROGRAM_VERSION.replace(/^repo /, '');
      if (env.out.json)
        env.out.printJson({
          message_type: 'version',
          version,
          format: FORMAT_VERSION,
          node: process.version,
          platform: process.platform,
          arch: process.arch,
        });
      else env.out.print(versionLine());
    });
}
