//! The wasm-bindgen tests in Node: `wasm-pack test --node` (from `wasm/`).
//! The tests live in `web.rs`, shared with `browser.rs`; a test binary runs in
//! one environment only, so each environment gets its own target.
#![cfg(target_arch = "wasm32")]

mod web;
