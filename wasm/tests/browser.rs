//! The wasm-bindgen tests in a browser: `wasm-pack test --headless --chrome`
//! (from `wasm/`; `webdriver.json` holds Chromium's flags). The tests live in
//! `web.rs`, shared with `node.rs`.
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod web;
