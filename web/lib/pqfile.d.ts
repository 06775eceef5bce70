// Types of lib/pqfile.js: the package's published declarations (which
// wasm/js/test/types/conformance.ts checks against its code).
export * from '../../wasm/js/src/index.js';
