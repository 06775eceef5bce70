//! Errors thrown to JavaScript: an `Error` named `PqfileError` whose `code`
//! property is one of [`ErrorCode`] (the codes of FORMAT.md §9, shared with
//! the CLI and the key server), so callers branch on codes, not on messages.

use wasm_bindgen::prelude::*;

pub use code::ErrorCode;

// wasm-bindgen's expansion of a string enum adds an undocumented variant.
#[allow(missing_docs)]
mod code {
    use wasm_bindgen::prelude::*;

    /// The stable `code` of every error this package throws.
    #[wasm_bindgen]
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum ErrorCode {
        /// The header ends early; `needed` says how many more bytes (FORMAT.md §9).
        TruncatedHeader = "truncated_header",
        /// Not a PQF file (P1).
        BadMagic = "bad_magic",
        /// A format version this build does not read (P2).
        UnsupportedVersion = "unsupported_version",
        /// Reserved flags set (P3).
        ReservedFlags = "reserved_flags",
        /// Stanza count outside 1..=16 (P4).
        BadStanzaCount = "bad_stanza_count",
        /// All-zero or malformed document id (P5).
        BadDocumentId = "bad_document_id",
        /// Stanza body of the wrong length for its KEM (S3).
        BadStanzaBody = "bad_stanza_body",
        /// Stanza body over 8192 bytes (S4).
        StanzaTooLarge = "stanza_too_large",
        /// Key id 0 or above 2³¹−1 in a file header (S5), or a transport stanza whose key id is not 0.
        BadKeyId = "bad_key_id",
        /// Two stanzas for the same key (S6).
        DuplicateStanza = "duplicate_stanza",
        /// No stanza uses a KEM this build implements (S2).
        UnsupportedKem = "unsupported_kem",
        /// None of the given keys is a recipient of the file.
        NoMatchingStanza = "no_matching_stanza",
        /// Opaque: wrong key, tampered, truncated or extended file (W1, M1, C2, C3).
        DecryptionFailed = "decryption_failed",
        /// Encrypting to no recipient or more than 16.
        BadRecipientCount = "bad_recipient_count",
        /// The same recipient key twice.
        DuplicateRecipient = "duplicate_recipient",
        /// More plaintext than the format allows (C4).
        MessageTooLong = "message_too_long",
        /// An ML-KEM-768 public key of the wrong length or failing the FIPS 203 check.
        InvalidPublicKey = "invalid_public_key",
        /// An ML-KEM-768 secret key that is not a 64-byte seed.
        InvalidSecretKey = "invalid_secret_key",
        /// An ML-KEM-768 ciphertext that is not 1088 bytes.
        InvalidCiphertext = "invalid_ciphertext",
        /// The key server's answer to an unwrap is not a transport stanza (FORMAT.md §7.1 K3).
        BadServerResponse = "bad_server_response",
        /// An object used after `finish()` or `free()`, or a call out of order.
        InvalidState = "invalid_state",
    }

    impl ErrorCode {
        /// The variant whose code is `code`.
        pub fn parse(code: &str) -> Option<ErrorCode> {
            Self::from_str(code)
        }

        /// The code's string.
        pub fn as_str(self) -> &'static str {
            self.to_str()
        }
    }
}

/// Every code pqfile-core can produce (`pqfile_core::ERROR_CODES`, in its
/// order). The bindings add one of their own, `"invalid_state"` (misuse of
/// their objects); [`ErrorCode`] lists both, and the npm package's
/// `ErrorCode` must list the same (its tests compare them).
#[wasm_bindgen(js_name = errorCodes)]
pub fn error_codes() -> Vec<String> {
    pqfile_core::ERROR_CODES
        .iter()
        .map(|c| (*c).to_owned())
        .collect()
}

/// An error on its way to JavaScript. Its code is kept as a string, so a
/// core code is passed through as it is, never replaced by another.
#[derive(Debug)]
pub struct Error {
    code: &'static str,
    message: String,
    needed: Option<usize>,
}

impl Error {
    /// An error with a code and a one-sentence message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code: code.as_str(),
            message: message.into(),
            needed: None,
        }
    }

    /// The error's code (one of [`error_codes`]).
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The error's code as an [`ErrorCode`] (`None` only for a code missing
    /// from the enum, which the tests rule out for every core code).
    pub fn error_code(&self) -> Option<ErrorCode> {
        ErrorCode::parse(self.code)
    }

    /// "used after finish()".
    pub fn finished() -> Self {
        Self::new(ErrorCode::InvalidState, "this object was already finished")
    }

    /// An error with a code from pqfile-core, passed through unchanged.
    pub fn from_core(code: &'static str, message: String) -> Self {
        Self {
            code,
            message,
            needed: None,
        }
    }
}

impl From<Error> for JsValue {
    fn from(e: Error) -> JsValue {
        let err = js_sys::Error::new(&e.message);
        err.set_name("PqfileError");
        let _ = js_sys::Reflect::set(&err, &"code".into(), &JsValue::from_str(e.code));
        if let Some(n) = e.needed {
            let _ = js_sys::Reflect::set(&err, &"needed".into(), &(n as f64).into());
        }
        err.into()
    }
}

impl From<pqfile_core::ParseError> for Error {
    fn from(e: pqfile_core::ParseError) -> Self {
        let mut err = Self::from_core(e.code(), e.to_string());
        if let pqfile_core::ParseError::Incomplete { needed } = e {
            err.needed = Some(needed);
        }
        err
    }
}

macro_rules! from_core_error {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Self::from_core(e.code(), e.to_string())
            }
        }
    )*};
}

from_core_error!(
    pqfile_core::DecryptError,
    pqfile_core::EncryptError,
    pqfile_core::BuildError,
    pqfile_core::StanzaUnwrapError,
    pqfile_core::kem::KeyError,
    pqfile_core::keyserver_unwrap::ResponseError
);

impl From<pqfile_core::stream::DecryptionFailed> for Error {
    fn from(e: pqfile_core::stream::DecryptionFailed) -> Self {
        Self::new(ErrorCode::DecryptionFailed, e.to_string())
    }
}

/// `Result` of every export.
pub type Result<T> = core::result::Result<T, Error>;

/// The `code` of an error thrown by this package, or `undefined` for any
/// other value (so callers can branch on a typed code).
#[wasm_bindgen(js_name = errorCodeOf)]
pub fn error_code_of(error: &JsValue) -> Option<ErrorCode> {
    let code = js_sys::Reflect::get(error, &"code".into()).ok()?;
    ErrorCode::parse(&code.as_string()?)
}
