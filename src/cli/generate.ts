// `repo generate`: shell completion (bash, zsh, fish), man pages and the JSON Schema of repo.yaml, with restic's flag names. Everything is
// derived from the commander program itself (completion.ts renders it); files are written through a temporary
// name, fsync and rename. "-" writes a completion script to standard output.

import path from 'node:path';
import type { Command, Option } from 'commander';
import { RepoError } from '../core/errors.js';
import { writeFileAtomic } from '../core/atomic-file.js';
import {
  bashCompletion,
  fishCompletion,
  manPages,
  zshCompletion,
  type CommandModel,
  type OptionModel,
} from './completion.js';
import { Env } from './context.js';
import { versionLine } from './version.js';

interface GenerateFlags {
  bashCompletion?: string;
  zshCompletion?: string;
  fishCompletion?: string;
  man?: string;
  configSchema?: string;
}

function optionModel(o: Option): OptionModel {
  return {
    short: o.short,
    long: o.long,
    takesValue: o.required || o.optional,
    description: o.description,
    flags: o.flags,
  };
}

/** Every visible command under `cmd`, depth first, with its own options (commander's help option included). */
export function commandModels(cmd: Command, prefix: string[] = []): CommandModel[] {
  const subs = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
  const help = cmd.createHelp();
  const options = help.visibleOptions(cmd).map(optionModel);
  const subcommands = subs.map((c) => ({ name: c.name(), description: c.description() }));
  if (prefix.length === 0 && subs.length > 0)
    subcommands.push({ name: 'help', description: 'display help for a command' });
  const self: CommandModel = { path: prefix, description: cmd.description(), usage: cmd.usage(), options, subcommands };
  return [self, ...subs.flatMap((c) => commandModels(c, [...prefix, c.name()]))];
}

export function registerGenerate(program: Command, epilog: string): void {
  program
    .command('generate')
    .description('write shell completion files and man pages')
    .option('--bash-completion <file>', 'write the bash completion file ("-" for standard output)')
    .option('--zsh-completion <file>', 'write the zsh completion file ("-" for standard output)')
    .option('--fish-completion <file>', 'write the fish completion file ("-" for standard output)')
    .option('--man <directory>', 'write man pages (repo.1, repo-backup.1, …) to this directory')
    .option('--config-schema <file>', 'write the JSON Schema of repo.yaml, for editors ("-" for standard output)')
    .action(async (flags: GenerateFlags, c: Command) => {
      const env = Env.from(c);
      const models = commandModels(program);
      const jobs: [string | undefined, () => string | Promise<string>][] = [
        [flags.bashCompletion, () => bashCompletion(models)],
        [flags.zshCompletion, () => zshCompletion(models)],
        [flags.fishCompletion, () => fishCompletion(models)],
        // Loaded only here: the schema library and the YAML parser cost every other command start-up time.
        [
          flags.configSchema,
          async () => JSON.stringify((await import('../ops/config.js')).configJsonSchema(), null, 2) + '\n',
        ],
      ];
      if (jobs.every(([f]) => f === undefined) && flags.man === undefined) {
        throw new RepoError(
          'INVALID_ARGUMENT',
          'nothing to generate: give --bash-completion, --zsh-completion, --fish-completion, --config-schema and/or --man',
        );
      }
      for (const [file, render] of jobs) {
        if (file === undefined) continue;
        const text = await render();
        if (file === '-') process.stdout.write(text);
        else {
          await writeFileAtomic(file, text, { mode: 0o644, makeDir: true });
          env.out.info(`writing ${file}`);
        }
      }
      if (flags.man !== undefined) {
        // The build's date would be more stable, but the program carries none; the page shows when it was made.
        const date = new Date().toISOString().slice(0, 10);
        for (const [name, text] of manPages(models, versionLine(), date, epilog)) {
          await writeFileAtomic(path.join(flags.man, name), text, { mode: 0o644, makeDir: true });
          env.out.info(`writing man page ${path.join(flags.man, name)}`);
        }
      }
    });
}
