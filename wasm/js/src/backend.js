// The wasm bindings in use: set once by the entry point (node.js, browser.js
// or bundler.js) for the wasm-bindgen target it loads.
export const backend = {
  /** @type {typeof import('../dist/bundler/pqfile_wasm.js')} */ wasm: /** @type {any} */ (null),
  /** @type {(input?: any) => Promise<void>} */ init: async () => {},
};
/** @type {Promise<void> | null} */
let ready = null;

/**
 * Loads and instantiates the wasm module once; returns the bindings.
 * @param {any} [input] where the .wasm is (browsers); see index.d.ts
 */
export async function init(input) {
  ready ??= backend.init(input).catch((e) => {
    ready = null;
    throw e;
  });
  await ready;
  return backend.wasm;
}
