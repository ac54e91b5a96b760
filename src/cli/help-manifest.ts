// `repo --help` without loading the program. The overview lists every command, and building it the normal way
// loads every command's module (the server, the UI, the mount, the operations layer): 0.128 s and 57 MiB against
// 0.092 s and 45 MiB this way (medians of 15, idle 2-core machine). So `npm run build` describes the full
// program's overview once (scripts/bundle.mjs writes dist/bundle/help.json with describeProgram), and the
// entry (entry.ts) rebuilds from it a skeleton that has the
// same root options, help texts and, per command, what the overview shows of it: name, aliases, arguments,
// whether it has options, summary, group, hidden or not. Commander then formats the skeleton exactly as it
// formats the full program, at whatever width the terminal has; test/e2e/help-fast.test.ts compares the two.

import { Argument, Command, CommanderError, Option } from 'commander';

/** Commander's four places for extra help text around a command's own help. */
const TEXT_POSITIONS = ['beforeAll', 'before', 'after', 'afterAll'] as const;
type TextPosition = (typeof TEXT_POSITIONS)[number];

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

export interface HelpManifest {
  name: string;
  usage: string;
  description: string;
  /** The root's own options (the help option is commander's default and is not listed). */
  options: OptionModel[];
  /** Extra texts the root prints around its help (addHelpText), by position. */
  texts: Partial<Record<TextPosition, string>>;
  commands: CommandModel[];
}

interface OptionModel {
  flags: string;
  description: string;
  /** The option's other data fields as commander keeps them (default value, choices, env, hidden, group…). */
  fields: Record<string, Json>;
}

interface ArgumentModel {
  /** `<name>`, `[name]`, `<name...>`: what commander parses back into the same argument. */
  spec: string;
  description: string;
}

interface CommandModel {
  name: string;
  aliases: string[];
  description: string;
  summary: string;
  group: string;
  hidden: boolean;
  /** The overview only shows whether a command has options (as "[options]"), not which. */
  optionCount: number;
  args: ArgumentModel[];
}

/** Data fields only: commander's functions (argument parsers) and undefined values are not part of the help. */
function dataFields(o: object, skip: string[]): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(o)) {
    if (skip.includes(k) || v === undefined || typeof v === 'function') continue;
    out[k] = JSON.parse(JSON.stringify(v)) as Json;
  }
  return out;
}

function argumentSpec(a: Argument): string {
  const name = a.name() + (a.variadic ? '...' : '');
  return a.required ? `<${name}>` : `[${name}]`;
}

/** The texts addHelpText registered on `cmd`, collected by emitting commander's help events into a buffer. */
function helpTexts(cmd: Command): Partial<Record<TextPosition, string>> {
  const texts: Partial<Record<TextPosition, string>> = {};
  for (const position of TEXT_POSITIONS) {
    let text = '';
    // Commander's Command is an EventEmitter; its typings do not say so.
    (cmd as unknown as { emit: (event: string, context: object) => boolean }).emit(`${position}Help`, {
      error: false,
      command: cmd,
      write: (s: string) => (text += s),
    });
    if (text !== '') texts[position] = text.replace(/\n$/, '');
  }
  return texts;
}

/** What the full program's overview (`repo --help`) is made of. */
export function describeProgram(program: Command): HelpManifest {
  const internal = (c: Command) => c as unknown as { _hidden?: boolean };
  return {
    name: program.name(),
    usage: program.usage(),
    description: program.description(),
    options: program.options.map((o) => ({
      flags: o.flags,
      description: o.description,
      fields: dataFields(o, ['flags', 'description']),
    })),
    texts: helpTexts(program),
    commands: program.commands.map((c) => ({
      name: c.name(),
      aliases: c.aliases(),
      description: c.description(),
      summary: c.summary(),
      group: c.helpGroup(),
      hidden: internal(c)._hidden === true,
      optionCount: c.options.length,
      args: c.registeredArguments.map((a) => ({ spec: argumentSpec(a), description: a.description })),
    })),
  };
}

/**
 * A program that prints the same overview as the one `m` describes. It throws instead of exiting, as the real
 * program does (exitOverride), so that printOverview gets commander's exit code.
 */
function programFromManifest(m: HelpManifest): Command {
  const program = new Command(m.name).usage(m.usage).description(m.description).exitOverride();
  for (const o of m.options) program.addOption(Object.assign(new Option(o.flags, o.description), o.fields));
  for (const position of TEXT_POSITIONS) {
    const text = m.texts[position];
    if (text !== undefined) program.addHelpText(position, text);
  }
  for (const c of m.commands) {
    const cmd = new Command(c.name).description(c.description).summary(c.summary).aliases(c.aliases);
    if (c.group !== '') cmd.helpGroup(c.group);
    for (const a of c.args) cmd.addArgument(new Argument(a.spec, a.description));
    // Stand-ins: the overview shows only that there are options.
    for (let i = 0; i < c.optionCount; i++) cmd.option(`--option-${i}`);
    program.addCommand(cmd, { hidden: c.hidden });
  }
  return program;
}

/** Answers an overview request (`repo`, `repo --help`, `-h`, `help`) from `m`; returns the exit code commander chose. */
export function printOverview(m: HelpManifest, argv: string[]): number {
  const program = programFromManifest(m);
  try {
    program.parse(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    throw err;
  }
}
