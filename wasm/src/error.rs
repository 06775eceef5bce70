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
        /// An object used after `finish()` or `free()`, or a call out of order.
        InvalidState = "invalid_state",
    }

    impl ErrorCode {
        /// The variant whose code is `code`.
        pub fn parse(code: &str) -> Option<ErrorCode> {
            Self::from_str(code)
        }
    }
}

/// An error on its way to JavaScript.
#[derive(Debug)]
pub struct Error {
    code: ErrorCode,
    message: String,
    needed: Option<usize>,
}

impl Error {
    /// An error with a code and a one-sentence message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            needed: None,
        }
    }

    /// The error's code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// "used after finish()".
    pub fn finished() -> Self {
        Self::new(ErrorCode::InvalidState, "this object was already finished")
    }

    fn from_core(code: &str, message: String) -> Self {
        // Every core code is listed in ErrorCode; a new one shows up as
        // decryption_failed rather than as an unknown string.
        let code = ErrorCode::parse(code).unwrap_or(ErrorCode::DecryptionFailed);
        Self::new(code, message)
    }
}

impl From<Error> for JsValue {
    fn from(e: Error) -> JsValue {
        let err = js_sys::Error::new(&e.message);
        err.set_name("PqfileError");
        let _ = js_sys::Reflect::set(&err, &"code".into(), &JsValue::from(e.code));
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
    pqfile_core::kem::KeyError
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
