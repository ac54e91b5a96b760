// Loading the index files into memory (spec §8), degrading instead of blocking on damage.
// A damaged index file only hides the locations it lists: every blob another index file also lists is still found,
// and the packs themselves are untouched, so `repair index` rebuilds what it listed from the pack headers.
// Deleting is the one thing that must not go on with a partial index (a pack it alone names would look unused):
// prune checks damagedIndexFiles and refuses.

import { errorMessage, isRepoError } from '../core/errors.js';
import { AAD_INDEX } from './aad.js';
import type { FileType } from '../backend/backend.js';
import { decodeIndexRecords } from './index-file.js';
import type { MasterIndex } from './master-index.js';

export const REPAIR_INDEX_HINT = 'run "repo repair index" to rebuild the index from the packs';

/** The parts of a Repository that loading its index uses (spelled out here: repository.ts imports this file). */
interface IndexLoader {
  listNames(type: FileType): Promise<string[]>;
  loadUnpacked(type: 'index', name: string, aad: Buffer): Promise<Buffer>;
  readonly index: MasterIndex;
  readonly damagedIndexFiles: string[];
  readonly supersededIndexFiles: string[];
  readonly warn: (message: string) => void;
}

/**
 * Loads every index file; damaged ones are warned about and listed in repo.damagedIndexFiles, or thrown with
 * `strict`. Present files that another present file names as superseded are listed in repo.supersededIndexFiles.
 */
export async function loadIndexFiles(repo: IndexLoader, strict: boolean): Promise<void> {
  const names = await repo.listNames('index');
  const present = new Set(names);
  const superseded = new Set<string>();
  for (const name of names) {
    let idx;
    try {
      idx = decodeIndexRecords(await repo.loadUnpacked('index', name, AAD_INDEX), name);
    } catch (err) {
      // Only a file proven damaged is skipped; an I/O error says nothing about its content.
      if (strict || !(isRepoError(err, 'INTEGRITY') || isRepoError(err, 'FORMAT'))) throw err;
      repo.damagedIndexFiles.push(`index/${name}`);
      repo.warn(
        `index file index/${name} is damaged (${errorMessage(err)}) and was skipped; blobs only it lists are treated as missing: ${REPAIR_INDEX_HINT}`,
      );
      continue;
    }
    for (const p of idx.packs) repo.index.addRecords(p.pack, p.records);
    for (const old of idx.supersedes) if (present.has(old)) superseded.add(old);
  }
  repo.supersededIndexFiles.splice(0, Infinity, ...[...superseded].sort());
}

/** The sentence to add to a "blob not in the index" failure when index files were skipped. */
export function damagedIndexNote(files: readonly string[]): string {
  return `${files.length} damaged index file${files.length === 1 ? ' was' : 's were'} skipped (${files.join(', ')}): ${REPAIR_INDEX_HINT}`;
}
