// `migrate`: upgrades a format-1 repository in place to format 2 (spec/format-2.md §6). Only the config
// changes: format 2 reads every format-1 blob as it is, so no pack, index, tree or snapshot is rewritten.
// The single config write (temp file, fsync, rename, fsync of the directory on local storage) is the commit
// point: killed before it, the repository is format 1 as before; after it, format 2.

import { crashPoint } from '../core/crash-point.js';
import { AAD_CONFIG } from '../repository/aad.js';
import {
  chunkerForFormat,
  encodeConfig,
  FORMAT_VERSION,
  PADME_PADDING,
  publicConfig,
  type RepoConfig,
} from '../repository/config.js';
import type { Repository } from '../repository/repository.js';

export interface MigratePlan {
  from: number;
  to: number;
  /** False when the repository already is format 2: nothing to do. */
  needed: boolean;
  /** The config as it will be (the chunker secret left out). */
  config: RepoConfig;
}

/** The config format 2 gives `old`: same id, sizes and defaults; a fresh chunker secret; Padmé padding. */
export function upgradedConfig(old: RepoConfig): RepoConfig {
  return {
    ...old,
    version: FORMAT_VERSION,
    chunker: chunkerForFormat(FORMAT_VERSION, { ...old.chunker, secret: undefined }),
    blob_padding: PADME_PADDING,
  };
}

/**
 * Upgrades `repo` (opened, exclusively locked by the caller) to format 2 unless `dryRun`; returns what was (or
 * would be) done. The repository's handle keeps its old config: reopen it to write format-2 data.
 */
export async function migrateToFormat2(repo: Repository, opts: { dryRun?: boolean } = {}): Promise<MigratePlan> {
  const old = repo.config;
  if (old.version >= FORMAT_VERSION)
    return { from: old.version, to: old.version, needed: false, config: publicConfig(old) };
  const next = upgradedConfig(old);
  if (opts.dryRun !== true) {
    crashPoint('migrate-before-config'); // test-only (core/crash-point.ts)
    await repo.backend.save(
      { type: 'config', name: 'config' },
      repo.key.encryption.seal(encodeConfig(next), AAD_CONFIG),
    );
    crashPoint('migrate-after-config'); // the commit point has passed; the lock is still held
  }
  return { from: old.version, to: next.version, needed: true, config: publicConfig(next) };
}
