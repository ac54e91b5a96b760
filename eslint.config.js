// Lint rules that `npm test` enforces (test/guard/lint.test.ts runs ESLint over src/ with type information).
// Only rules that catch real bugs or state a project rule; formatting is prettier's job (.prettierrc.json).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    // test/guard/lint-probe.ts holds deliberately wrong code that proves the rules fire (test/long/lint.test.ts).
    files: ['src/**/*.ts', 'test/guard/lint-probe.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: {
        projectService: { allowDefaultProject: ['test/guard/lint-probe.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A promise nobody awaits or catches fails silently, or kills the process as an unhandled rejection.
      '@typescript-eslint/no-floating-promises': 'error',
      // A promise where a plain value is expected (an async callback to forEach, an `if (promise)`) is always truthy.
      '@typescript-eslint/no-misused-promises': 'error',
      // A control character in a regular expression is almost always a typo; where meant, say so in place.
      'no-control-regex': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { args: 'none', caughtErrors: 'none', ignoreRestSiblings: true, varsIgnorePattern: '^_' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          // Errors keep their class and text through core/errors.ts (errorMessage, withContext); only the CLI's error printer reads them raw.
          selector:
            "MemberExpression[property.name='message'] > TSAsExpression.object[typeAnnotation.typeName.name='Error']",
          message: 'use errorMessage(err) or withContext(err, …) from core/errors.ts instead of (err as Error).message',
        },
      ],
    },
  },
  {
    files: ['src/cli/main.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
