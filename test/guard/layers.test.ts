// The layer order README states ("Layout of the code"), enforced: a module under src/ imports only from its own
// folder and from folders of lower layers; folders of one layer do not import each other. Any import that
// climbs (a static import, an `export … from`, a dynamic import()) fails this test with the file and the import.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importsOf, SRC, sources } from '../helpers/source-imports.js';

/** Lowest first. `index.ts` (the library entry) sits above every folder but cli/. */
const LAYERS: string[][] = [
  ['core'],
  ['crypto'],
  ['chunker'],
  ['backend'],
  ['repository'],
  ['tree'],
  ['snapshot', 'policy'],
  ['archiver', 'restorer'],
  ['dump'],
  ['analyze'],
  ['maintenance'],
  ['ops'],
  ['index.ts'],
  ['server', 'mount', 'ui'],
  ['cli'],
];
const rank = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i] as const)));

/** The layer unit of a path under src/: its top folder, or the file itself for a top-level file. */
function unitOf(relPath: string): string {
  const [first] = relPath.split('/');
  return first;
}

export interface Violation {
  file: string;
  imports: string;
  why: string;
}

export function violations(files: { rel: string; source: string }[]): Violation[] {
  const out: Violation[] = [];
  for (const { rel, source } of files) {
    const from = unitOf(rel);
    const fromRank = rank.get(from);
    if (fromRank === undefined) {
      out.push({
        file: rel,
        imports: '',
        why: `${from} is in no layer: add it to LAYERS here and to README's "Layout of the code"`,
      });
      continue;
    }
    for (const spec of importsOf(source)) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec));
      if (target.startsWith('..')) {
        out.push({ file: rel, imports: spec, why: 'imports from outside src/' });
        continue;
      }
      const to = unitOf(target);
      if (to === from) continue;
      const toRank = rank.get(to);
      if (toRank === undefined) out.push({ file: rel, imports: spec, why: `${to} is in no layer` });
      else if (toRank > fromRank)
        out.push({
          file: rel,
          imports: spec,
          why: `${from} (layer ${fromRank}) imports ${to} (layer ${toRank}), a higher layer`,
        });
      else if (toRank === fromRank)
        out.push({
          file: rel,
          imports: spec,
          why: `${from} and ${to} share layer ${fromRank}; neither may import the other`,
        });
    }
  }
  return out;
}

describe('layers', () => {
  it('no module under src/ imports from a higher layer or a sibling folder of its layer', () => {
    const files = sources();
    expect(files.length).toBeGreaterThan(100);
    expect(violations(files)).toEqual([]);
  });

  it('every folder under src/ is in a layer', () => {
    const folders = fs
      .readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(folders.filter((f) => !rank.has(f))).toEqual([]);
  });

  it.each([
    ['a static import', `import { Repository } from '../repository/repository.js';`],
    ['a type-only import', `import type { Snapshot } from '../snapshot/snapshot.js';`],
    ['a re-export', `export { walkTree } from '../tree/walk.js';`],
    ['a multi-line import', `import {\n  a, // the first\n  b,\n} from '../maintenance/prune-plan.js';`],
    ['a dynamic import', `const { loadConfig } = await import('../ops/config.js');`],
  ])('catches %s that climbs', (_what, line) => {
    const found = violations([{ rel: 'backend/x.ts', source: `// header\n${line}\n` }]);
    expect(found).toHaveLength(1);
    expect(found[0].why).toMatch(/higher layer/);
  });

  it('catches an import between two folders of one layer, and allows imports within a folder and downwards', () => {
    expect(violations([{ rel: 'archiver/x.ts', source: `import { a } from '../restorer/a.js';` }])[0].why).toMatch(
      /share layer/,
    );
    expect(
      violations([
        { rel: 'archiver/x.ts', source: `import { a } from './a.js';\nimport { b } from '../core/errors.js';` },
      ]),
    ).toEqual([]);
    expect(violations([{ rel: 'index.ts', source: `export { main } from './cli/main.js';` }])).toHaveLength(1);
  });
});
