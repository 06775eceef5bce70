// The wasm bindings in use: set once by the entry point (node.js, browser.js
// or bundler.js) for the wasm-bindgen target it loads.
export const backend = {
  /** @type {any} */ wasm: null,
  /** @type {(input?: any) => Promise<void>} */ init: async () => {},
};
let ready = null;

/** Loads and instantiates the wasm module once; returns the bindings. */
export async function init(input) {
  ready ??= backend.init(input).catch((e) => {
    ready = null;
    throw e;
  });
  await ready;
  return backend.wasm;
}
