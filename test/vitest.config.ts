// Test configuration. `npm test` runs everything; long suites (crash loops, fault injection, S3)
// live under test/long/ and can be run alone with `npx vitest run --config test/vitest.config.ts --project long`.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    testTimeout: 60_000,
    hookTimeout: 60_000,
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
