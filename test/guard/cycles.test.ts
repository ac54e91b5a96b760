// No import cycle among the files under src/, type-only imports and dynamic import() included: a cycle makes
// load order matter, hides which file is the lower one, and is where a split file grows back together.
// When this fails, move what both files need (a type, a constant) into a leaf file that imports neither.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importsOf, sources, type SourceFile } from '../helpers/source-imports.js';

/** The file under src/ a relative specifier names (`./x.js` → `x.ts`, `./dir/index.js` → `dir/index.ts`). */
function resolve(fromRel: string, spec: string, known: Set<string>): string | undefined {
  const joined = path.posix.normalize(path.posix.join(path.posix.dirname(fromRel), spec));
  const base = joined.replace(/\.(js|ts|mjs)$/, '');
  return [`${base}.ts`, `${base}/index.ts`].find((c) => known.has(c));
}

/** Each cycle as the files of one strongly connected component (sorted), via Tarjan's algorithm. */
export function importCycles(files: SourceFile[]): string[][] {
  const known = new Set(files.map((f) => f.rel));
  const edges = new Map<string, string[]>();
  for (const f of files) {
    const to = importsOf(f.source)
      .map((s) => resolve(f.rel, s, known))
      .filter((t): t is string => t !== undefined);
    edges.set(f.rel, [...new Set(to)]);
  }
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || (edges.get(v) ?? []).includes(v)) out.push(scc.sort());
  };
  for (const f of [...known].sort()) if (!index.has(f)) visit(f);
  return out;
}

describe('import cycles', () => {
  it('no file under src/ imports itself through a chain of imports', () => {
    const files = sources();
    expect(files.length).toBeGreaterThan(100);
    expect(importCycles(files)).toEqual([]);
  });

  it.each([
    ['a type-only import', `import type { A } from './a.js';`],
    ['a dynamic import', `const { A } = await import('./a.js');`],
    ['a re-export', `export { A } from './a.js';`],
  ])('catches a cycle closed by %s', (_what, line) => {
    const files = [
      { rel: 'x/a.ts', source: `import { B } from './b.js';\nexport const A = 1;` },
      { rel: 'x/b.ts', source: `${line}\nexport const B = 2;` },
      { rel: 'x/leaf.ts', source: `export const C = 3;` },
    ];
    expect(importCycles(files)).toEqual([['x/a.ts', 'x/b.ts']]);
  });

  it('catches a longer cycle across folders and through an index file, and passes a chain without one', () => {
    const files = [
      { rel: 'a/one.ts', source: `import { two } from '../b/index.js';` },
      { rel: 'b/index.ts', source: `export { two } from './two.js';` },
      { rel: 'b/two.ts', source: `import { one } from '../a/one.js';` },
    ];
    expect(importCycles(files)).toEqual([['a/one.ts', 'b/index.ts', 'b/two.ts']]);
    files[2].source = `import { leaf } from './leaf.js';`;
    expect(importCycles([...files, { rel: 'b/leaf.ts', source: '' }])).toEqual([]);
  });
});
