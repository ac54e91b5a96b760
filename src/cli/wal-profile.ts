// The profile a `repo wal …` or `repo pg …` command works on: the global --profile and --config name it, and
// the profile holds the repository and its password (so postgresql.conf holds no secret).

import type { Command } from 'commander';
import { RepoError } from '../core/errors.js';
import type { ProfileConfig } from '../ops/config.js';

export interface WalFlags {
  profile?: string;
  config?: string;
}

/** The command's flags with the global --profile and --config (cli/profile-option.ts), which name the profile here. */
export function withGlobals<T extends object>(flags: T, c: Command): T & WalFlags {
  const g = c.optsWithGlobals<WalFlags>();
  if (g.profile === undefined)
    throw new RepoError(
      'INVALID_ARGUMENT',
      `${c.parent?.name()} ${c.name()} needs --profile NAME: the repo.yaml profile with the repository and its password`,
    );
  return { ...flags, profile: g.profile, config: g.config };
}

export async function loadProfile(flags: WalFlags): Promise<{ profile: ProfileConfig; file: string }> {
  const { loadConfig, selectProfiles } = await import('../ops/config.js');
  const config = loadConfig(flags.config);
  return { profile: selectProfiles(config, [flags.profile!])[0], file: config.file };
}
