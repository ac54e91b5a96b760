// The global --no-cache flag: turns off the local cache of index files, snapshot files and tree packs
// (backend/cache.ts) that remote repositories get by default. Registered from main.ts like a command.

import type { Command } from 'commander';

export function registerCacheOptions(program: Command): void {
  program.option(
    '--no-cache',
    "do not use the local cache of remote repositories' metadata ($REPO_CACHE_DIR, default $XDG_CACHE_HOME/repo or ~/.cache/repo)",
  );
}
