import versions from './versions.mjs';
import kernel from './kernel.mjs';
import random from './random.mjs';
import pgdump from './pgdump.mjs';

export const DATASETS = [versions, kernel, random, pgdump];
/** Run by default with --quick (the others only when named with --datasets). */
export const QUICK_DEFAULT = ['versions', 'random'];

/** Resolves a --datasets list (names or letters a-d). */
export function resolveDatasets(list) {
  return list.map((s) => {
    const d = DATASETS.find((x) => x.name === s || x.letter === s);
    if (!d)
      throw new Error(`unknown dataset "${s}" (known: ${DATASETS.map((x) => `${x.name} (${x.letter})`).join(', ')})`);
    return d;
  });
}
