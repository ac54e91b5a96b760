// `repo mount MOUNTPOINT`: the repository as a read-only FUSE file system in restic's layout, until Ctrl-C,
// SIGTERM or an unmount. Holds a shared lock while mounted, like restic.

import type { Command } from 'commander';
import { RepoError } from '../core/errors.js';
import { checkPathTemplate, DEFAULT_PATH_TEMPLATES } from '../mount/layout.js';
import { checkMountpoint, mountRepository } from '../mount/mount.js';
import { unmountCommand } from '../mount/mountpoint.js';
import { checkTimeTemplate, DEFAULT_TIME_TEMPLATE } from '../mount/time-template.js';
import { addFilterFlags, Env, snapshotFilter, withRepository, type FilterFlags } from './context.js';
import { collect, parseSize } from './parse.js';

interface MountFlags extends FilterFlags {
  allowOther?: boolean;
  defaultPermissions: boolean;
  ownerRoot?: boolean;
  pathTemplate?: string[];
  timeTemplate: string;
  cacheSize: string;
}

export function registerMount(program: Command): void {
  const cmd = program
    .command('mount')
    .description('mount the repository read-only at MOUNTPOINT (FUSE) until Ctrl-C, SIGTERM or unmount')
    .argument('<mountpoint>', 'an empty directory')
    .option('--allow-other', 'let other users access the mounted directory')
    .option('--no-default-permissions', "with --allow-other: ignore files' permissions, anyone may read everything")
    .option('--owner-root', "show root as every file's owner")
    .option(
      '--path-template <template>',
      `where snapshots appear (repeatable; %i short id, %I id, %u user, %h host, %t tag, %T time; default ${DEFAULT_PATH_TEMPLATES.map((t) => `"${t}"`).join(' ')})`,
      collect,
    )
    .option(
      '--time-template <template>',
      'how %T writes a time, as a Go layout of "Mon Jan 2 15:04:05 -0700 MST 2006"',
      DEFAULT_TIME_TEMPLATE,
    )
    .option('--cache-size <size>', 'memory for file contents read recently (e.g. 64M)', '64M');
  addFilterFlags(cmd, collect).action((mountpoint: string, flags: MountFlags, c: Command) =>
    runMount(Env.from(c), mountpoint, flags),
  );
}

async function runMount(env: Env, mountpoint: string, flags: MountFlags): Promise<void> {
  const pathTemplates = flags.pathTemplate ?? DEFAULT_PATH_TEMPLATES;
  pathTemplates.forEach(checkPathTemplate);
  checkTimeTemplate(flags.timeTemplate);
  const cacheBytes = parseSize(flags.cacheSize, '--cache-size');
  if (cacheBytes < 1024 * 1024) throw new RepoError('INVALID_ARGUMENT', '--cache-size must be at least 1M');
  checkMountpoint(mountpoint); // before the password is asked for
  // Ctrl-C reaches us through env.signal (main.ts); SIGTERM too, so `kill` unmounts as cleanly.
  const stop = new AbortController();
  const onTerm = () => stop.abort();
  env.signal.addEventListener('abort', onTerm, { once: true });
  process.once('SIGTERM', onTerm);
  try {
    await withRepository(env, {}, async (repo) => {
      const how = await mountRepository(repo, {
        mountpoint,
        allowOther: flags.allowOther === true,
        defaultPermissions: flags.defaultPermissions,
        ownerRoot: flags.ownerRoot === true,
        pathTemplates,
        timeTemplate: flags.timeTemplate,
        filter: snapshotFilter(flags),
        cacheBytes,
        warn: (line) => env.out.warn(line),
        stop: stop.signal,
        onReady: (abs, n) => {
          if (env.out.quiet) return;
          process.stderr.write(
            `serving ${n} snapshot${n === 1 ? '' : 's'} at ${abs}\n` +
              `browse it from another terminal; Ctrl-C here or \`${unmountCommand(abs)}\` unmounts it\n`,
          );
        },
      });
      if (how === 'lazily')
        env.out.warn(`${mountpoint} was busy: detached now, the kernel lets go once its last user leaves`);
    });
  } finally {
    process.removeListener('SIGTERM', onTerm);
  }
}
