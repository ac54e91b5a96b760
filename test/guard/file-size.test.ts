// Holds the line README sets for source files ("under ~450 lines"): no file under src/ may pass MAX_LINES.
// When this fails, split the file along a seam (a group of helpers, a set of types, one step of a pipeline)
// into a file whose name says what that part is; do not raise the limit.
import { describe, expect, it } from 'vitest';
import { sources } from '../helpers/source-imports.js';

/** The hard stop; the aim stays ~450, this leaves room for a change in flight. */
const MAX_LINES = 500;

describe('file size', () => {
  it(`no file under src/ is longer than ${MAX_LINES} lines`, () => {
    const long = sources()
      .map((f) => ({ file: f.rel, lines: f.source.split('\n').length - (f.source.endsWith('\n') ? 1 : 0) }))
      .filter((f) => f.lines > MAX_LINES);
    expect(long).toEqual([]);
  });
});
