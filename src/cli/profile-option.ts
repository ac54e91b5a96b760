// The global --config FILE and --profile NAME options, accepted anywhere on the command line: every command
// takes its repository, password source, environment (env, env-file) and cache settings from the profile.
// Command-line flags still win over the profile, and the profile wins over REPO_* environment variables.
// run, schedule and status select profiles themselves; --profile NAME there means "this profile".

import type { Command } from 'commander';
import type { ProfileConfig } from '../ops/config.js';

/** Commands that read repo.yaml themselves and take profile names. */
const PROFILE_COMMANDS = new Set(['run', 'schedule', 'status']);

export function registerProfileOptions(program: Command): void {
  program
    .option(
      '--config <file>',
      'config file with profiles (default: $REPO_CONFIG, ./repo.yaml, $XDG_CONFIG_HOME/repo/repo.yaml)',
    )
    .option('--profile <name>', 'take repository, password, env and cache settings from this repo.yaml profile')
    .hook('preAction', async (root, action) => {
      const g = root.opts<{
        config?: string;
        profile?: string;
        repo?: string;
        passwordFile?: string;
        passwordCommand?: string;
      }>();
      if (g.profile === undefined || PROFILE_COMMANDS.has(topCommand(action).name())) return;
      // `wal push --spool` only hands the file to its background pusher, which reads the profile itself:
      // parsing repo.yaml would be most of what archive_command costs per segment.
      if (action.name() === 'push' && action.parent?.name() === 'wal' && action.opts().spool !== undefined) return;
      const { loadConfig, selectProfiles } = await import('../ops/config.js');
      const [p] = selectProfiles(loadConfig(g.config), [g.profile]);
      await applyProfile(root, p, g);
    });
}

function topCommand(c: Command): Command {
  let cmd = c;
  while (cmd.parent?.parent) cmd = cmd.parent;
  return cmd;
}

async function applyProfile(
  root: Command,
  p: ProfileConfig,
  g: { repo?: string; passwordFile?: string; passwordCommand?: string },
): Promise<void> {
  const { applyProfileEnvironment } = await import('../ops/profile-env.js');
  applyProfileEnvironment(p); // first: a profile's variables never override its own settings below
  if (g.repo === undefined) root.setOptionValue('repo', p.repository);
  if (g.passwordFile === undefined && g.passwordCommand === undefined) {
    if (p.passwordFile !== undefined) root.setOptionValue('passwordFile', p.passwordFile);
    else if (p.passwordCommand !== undefined) root.setOptionValue('passwordCommand', p.passwordCommand);
    else if (p.password !== undefined) {
      // The variables would win over REPO_PASSWORD; the profile's password is what was asked for.
      delete process.env.REPO_PASSWORD_FILE;
      delete process.env.REPO_PASSWORD_COMMAND;
      process.env.REPO_PASSWORD = p.password;
    }
  }
  if (p.noCache) root.setOptionValue('cache', false);
  if (p.cacheDir !== undefined) process.env.REPO_CACHE_DIR = p.cacheDir;
}
