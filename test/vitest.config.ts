// Test configuration. `npm test` runs everything; long suites (crash loops, fault injection, S3)
// live under test/long/ and can be run alone with `npx vitest run --config test/vitest.config.ts --project long`.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two test files at a time, also on a 2-core machine (vitest's default there is one): most files spend their
    // time waiting on the CLI subprocesses and servers they start, so a second file fills the idle core.
    // Measured on 2 cores: see the README's test section.
    maxWorkers: 2,
    minWorkers: 1,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: ['test/long/**', 'test/e2e/**'] },
      },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'] } },
      { extends: true, test: { name: 'long', include: ['test/long/**/*.test.ts'] } },
    ],
  },
});
