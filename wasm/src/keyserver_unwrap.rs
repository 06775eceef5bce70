//! The key server's unwrap protocol (FORMAT.md §7, §7.1), from pqfile-core:
//! the JavaScript client only sends the requests over HTTP.

use wasm_bindgen::prelude::*;

use crate::error::Result;
use crate::header::Header;
use crate::kem::FileKey;
use crate::rng;

/// Asking a key server for the file key of one header: one request per
/// candidate stanza (supported KEM, file order), each with a fresh
/// ephemeral ML-KEM-768 key.
#[wasm_bindgen]
pub struct KeyServerUnwrap(pqfile_core::KeyServerUnwrap);

#[wasm_bindgen]
impl KeyServerUnwrap {
    /// Starts with a parsed header (copied). Throws `unsupported_kem` when
    /// no stanza has a KEM this build implements: there is nothing to ask.
    #[wasm_bindgen(constructor)]
    pub fn new(header: &Header) -> Result<KeyServerUnwrap> {
        Ok(Self(pqfile_core::KeyServerUnwrap::new(
            header.inner.clone(),
        )?))
    }

    /// The document id the requests go to, 32 lowercase hex digits.
    #[wasm_bindgen(getter, js_name = documentId)]
    pub fn document_id(&self) -> String {
        self.0.document_id().to_string()
    }

    /// The request for the next candidate stanza, or `undefined` when every
    /// candidate was asked about.
    #[wasm_bindgen(js_name = nextRequest)]
    pub fn next_request(&mut self) -> Option<UnwrapRequest> {
        self.0.next_request(&mut rng()).map(UnwrapRequest)
    }

    /// Opens the key server's answer to `request`: the transport stanza
    /// (key id 0), then the header MAC. Throws `bad_server_response` for an
    /// answer that is not a transport stanza, `decryption_failed` otherwise.
    #[wasm_bindgen(js_name = openResponse)]
    pub fn open_response(
        &self,
        request: &UnwrapRequest,
        transport_stanza: &[u8],
    ) -> Result<FileKey> {
        Ok(FileKey(self.0.open_response(&request.0, transport_stanza)?))
    }
}

/// One unwrap request: the stanza and the ephemeral public key to send.
/// Holds the ephemeral secret key (wiped by `free()`).
#[wasm_bindgen]
pub struct UnwrapRequest(pqfile_core::keyserver_unwrap::UnwrapRequest);

#[wasm_bindgen]
impl UnwrapRequest {
    /// The key id the stanza names.
    #[wasm_bindgen(getter, js_name = keyId)]
    pub fn key_id(&self) -> u32 {
        self.0.key_id()
    }

    /// The stanza's encoding (the request's `stanza` field, before base64).
    #[wasm_bindgen(getter)]
    pub fn stanza(&self) -> Vec<u8> {
        self.0.stanza().to_vec()
    }

    /// The 1184-byte ephemeral public key (`ephemeral_public_key`).
    #[wasm_bindgen(getter, js_name = ephemeralPublicKey)]
    pub fn ephemeral_public_key(&self) -> Vec<u8> {
        self.0.ephemeral_public_key().to_vec()
    }
}

/// The retry policy (FORMAT.md §7.1): after the key server refused a stanza
/// with HTTP `status` (0 when it was not reached) and error `code`, whether
/// to ask about the next stanza (`true`) or report this error (`false`).
#[wasm_bindgen(js_name = shouldTryNextStanza)]
pub fn should_try_next_stanza(status: u16, code: &str) -> bool {
    pqfile_core::keyserver_unwrap::next_step(status, code)
        == pqfile_core::keyserver_unwrap::NextStep::TryNextStanza
}
