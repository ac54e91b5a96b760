// ESLint with type information over src/ (rules in eslint.config.js: floating and misused promises, unused
// names, raw `(err as Error).message`). Here rather than in the unit project because typed linting of the whole
// tree takes about half a minute of CPU.
import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = path.join(import.meta.dirname, '..', '..');

describe('lint', () => {
  it('eslint finds nothing in src/', { timeout: 300_000 }, async () => {
    const eslint = new ESLint({ cwd: ROOT });
    const results = await eslint.lintFiles(['src/**/*.ts']);
    expect(results.length).toBeGreaterThan(100);
    const problems = results.flatMap((r) =>
      r.messages.map((m) => `${path.relative(ROOT, r.filePath)}:${m.line}:${m.column} ${m.ruleId ?? ''} ${m.message}`),
    );
    expect(problems).toEqual([]);
  });

  it('the rules catch a floating promise and a raw (err as Error).message', { timeout: 120_000 }, async () => {
    const eslint = new ESLint({ cwd: ROOT });
    const [r] = await eslint.lintFiles(['test/guard/lint-probe.ts']);
    expect(r.messages.map((m) => m.ruleId).sort()).toEqual([
      '@typescript-eslint/no-floating-promises',
      'no-restricted-syntax',
    ]);
  });
});
