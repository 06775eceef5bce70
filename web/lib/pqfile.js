// The page's one door to the npm package `pqfile`: scripts/build-web.sh
// copies the package's browser entry to vendor/pqfile/ (a build output).
// The type checker reads pqfile.d.ts next to this file instead, i.e. the
// package's published declarations, never the vendored copy.
export * from '../vendor/pqfile/src/browser.js';
