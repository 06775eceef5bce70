#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod error;
pub mod header;
pub mod kem;
pub mod keyserver_unwrap;
pub mod stream;

pub use error::{Error, ErrorCode, error_codes};
pub use header::{Header, HeaderReader, StanzaInfo};
pub use kem::{Encapsulation, FileKey, PublicKey, SecretKey};
pub use keyserver_unwrap::{KeyServerUnwrap, UnwrapRequest, should_try_next_stanza};
pub use stream::{ChunkKey, Decryptor, Encryptor, Recipients, StreamConstant};

/// The size of this module's linear memory in bytes (it only grows): lets
/// callers check that streaming keeps wasm memory bounded.
#[wasm_bindgen::prelude::wasm_bindgen(js_name = memoryBytes)]
pub fn memory_bytes() -> f64 {
    #[cfg(target_arch = "wasm32")]
    let pages = core::arch::wasm32::memory_size(0);
    #[cfg(not(target_arch = "wasm32"))]
    let pages = 0;
    (pages * 65536) as f64
}

/// The platform CSPRNG (`crypto.getRandomValues`). It only fails where no
/// CSPRNG exists, and then nothing here can run safely, so it aborts.
pub(crate) fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}
