// eslint 9 (flat config) over the package (src/), its tests (test/), the web
// page (web/) and the page's e2e tests. `npm run lint` (scripts/test.d/30-js.sh)
// runs it from the repository root with `-c wasm/js/eslint.config.js`, so the
// globs below are relative to the root.
import js from '@eslint/js';
import globals from 'globals';

export default [
  {
    ignores: ['**/node_modules/**', '**/dist/**', 'web/vendor/**', 'web/e2e/artifacts/**'],
  },
  js.configs.recommended,
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
      eqeqeq: ['error', 'always'],
      'no-var': 'error',
      'prefer-const': 'error',
      'no-throw-literal': 'error',
      'object-shorthand': 'error',
    },
  },
  {
    // The package runs in browsers, Node and bundlers: only what all share.
    files: ['wasm/js/src/**/*.js'],
    languageOptions: { globals: { ...globals['shared-node-browser'] } },
  },
  {
    // The page (a module script in the browser).
    files: ['web/*.js', 'web/lib/**/*.js', 'web/app/**/*.js'],
    ignores: ['web/sw.js'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['web/sw.js'],
    languageOptions: { sourceType: 'script', globals: { ...globals.serviceworker } },
  },
  {
    // Node tests; their callbacks for page.evaluate run in the browser.
    files: ['wasm/js/test/**/*.js', 'wasm/js/eslint.config.js', 'web/e2e/**/*.js'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
];
