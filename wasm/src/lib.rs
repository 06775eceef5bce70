#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod error;
pub mod header;
pub mod kem;
pub mod stream;

pub use error::{Error, ErrorCode};
pub use header::{Header, StanzaInfo};
pub use kem::{Encapsulation, FileKey, PublicKey, SecretKey};
pub use stream::{ChunkKey, Decryptor, Encryptor, Recipients};

/// The platform CSPRNG (`crypto.getRandomValues`). It only fails where no
/// CSPRNG exists, and then nothing here can run safely, so it aborts.
pub(crate) fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}
