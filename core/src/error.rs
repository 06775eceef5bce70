//! Why encrypting or decrypting failed, and the list of every stable error
//! code this crate produces ([`ERROR_CODES`]): the wasm bindings, the npm
//! package, the CLI and the key server reuse these codes verbatim.

use crate::format::ParseError;
use crate::header::BuildError;
use crate::stanza::StanzaUnwrapError;
use crate::stream;

/// Why a file could not be encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncryptError {
    /// The recipient list is invalid.
    Build(BuildError),
    /// More than 4 PiB of plaintext (C4).
    TooLong,
}

impl EncryptError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Build(e) => e.code(),
            Self::TooLong => "message_too_long",
        }
    }
}

impl core::fmt::Display for EncryptError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Build(e) => e.fmt(f),
            Self::TooLong => stream::MessageTooLong.fmt(f),
        }
    }
}

impl core::error::Error for EncryptError {}

impl From<BuildError> for EncryptError {
    fn from(e: BuildError) -> Self {
        Self::Build(e)
    }
}

impl From<stream::MessageTooLong> for EncryptError {
    fn from(_: stream::MessageTooLong) -> Self {
        Self::TooLong
    }
}

/// Why a file could not be decrypted (FORMAT.md §9).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecryptError {
    /// The header is malformed (says what is wrong).
    Parse(ParseError),
    /// Every stanza uses a KEM this build does not implement (S2).
    UnsupportedKem,
    /// None of the given identities is a recipient of the file.
    NoMatchingStanza,
    /// Opaque: wrong key, tampered, truncated or extended file.
    DecryptionFailed,
}

impl DecryptError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Parse(e) => e.code(),
            Self::UnsupportedKem => "unsupported_kem",
            Self::NoMatchingStanza => "no_matching_stanza",
            Self::DecryptionFailed => "decryption_failed",
        }
    }
}

impl core::fmt::Display for DecryptError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Parse(e) => e.fmt(f),
            Self::UnsupportedKem => {
                f.write_str("the file's stanzas all use KEMs this version does not support")
            }
            Self::NoMatchingStanza => {
                f.write_str("none of the available keys is a recipient of this file")
            }
            Self::DecryptionFailed => f.write_str("decryption failed"),
        }
    }
}

impl core::error::Error for DecryptError {}

impl From<ParseError> for DecryptError {
    fn from(e: ParseError) -> Self {
        Self::Parse(e)
    }
}

impl From<stream::DecryptionFailed> for DecryptError {
    fn from(_: stream::DecryptionFailed) -> Self {
        Self::DecryptionFailed
    }
}

impl From<StanzaUnwrapError> for DecryptError {
    fn from(e: StanzaUnwrapError) -> Self {
        match e {
            StanzaUnwrapError::UnsupportedKem => Self::UnsupportedKem,
            StanzaUnwrapError::DecryptionFailed => Self::DecryptionFailed,
        }
    }
}

/// Every stable error code this crate can produce, once each: the codes of
/// [`ParseError`], [`BuildError`], [`EncryptError`], [`DecryptError`],
/// [`StanzaUnwrapError`], [`crate::kem::KeyError`] and
/// [`crate::keyserver_unwrap::ResponseError`] (FORMAT.md §9). Other layers
/// check their own lists against this one.
pub const ERROR_CODES: &[&str] = &[
    "truncated_header",
    "bad_magic",
    "unsupported_version",
    "reserved_flags",
    "bad_stanza_count",
    "bad_document_id",
    "bad_stanza_body",
    "stanza_too_large",
    "bad_key_id",
    "duplicate_stanza",
    "unsupported_kem",
    "no_matching_stanza",
    "decryption_failed",
    "bad_recipient_count",
    "duplicate_recipient",
    "message_too_long",
    "invalid_public_key",
    "invalid_secret_key",
    "invalid_ciphertext",
    "bad_server_response",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kem::KeyError;
    use crate::keyserver_unwrap::ResponseError;
    use std::collections::BTreeSet;

    /// One value of every variant of every error enum. Each `match` lists
    /// the variants without a wildcard, so a new variant does not compile
    /// until it is added here, and then the test checks its code is listed.
    fn every_code() -> Vec<&'static str> {
        let parse = [
            ParseError::Incomplete { needed: 1 },
            ParseError::BadMagic,
            ParseError::UnsupportedVersion(2),
            ParseError::ReservedFlags,
            ParseError::BadStanzaCount(0),
            ParseError::BadDocumentId,
            ParseError::BadStanzaBody,
            ParseError::StanzaTooLarge,
            ParseError::BadKeyId,
            ParseError::DuplicateStanza,
        ];
        for e in &parse {
            match e {
                ParseError::Incomplete { .. }
                | ParseError::BadMagic
                | ParseError::UnsupportedVersion(_)
                | ParseError::ReservedFlags
                | ParseError::BadStanzaCount(_)
                | ParseError::BadDocumentId
                | ParseError::BadStanzaBody
                | ParseError::StanzaTooLarge
                | ParseError::BadKeyId
                | ParseError::DuplicateStanza => {}
            }
        }
        let build = [
            BuildError::BadRecipientCount,
            BuildError::BadKeyId,
            BuildError::DuplicateRecipient,
        ];
        for e in &build {
            match e {
                BuildError::BadRecipientCount
                | BuildError::BadKeyId
                | BuildError::DuplicateRecipient => {}
            }
        }
        let encrypt = [
            EncryptError::Build(BuildError::BadKeyId),
            EncryptError::TooLong,
        ];
        for e in &encrypt {
            match e {
                EncryptError::Build(_) | EncryptError::TooLong => {}
            }
        }
        let decrypt = [
            DecryptError::Parse(ParseError::BadMagic),
            DecryptError::UnsupportedKem,
            DecryptError::NoMatchingStanza,
            DecryptError::DecryptionFailed,
        ];
        for e in &decrypt {
            match e {
                DecryptError::Parse(_)
                | DecryptError::UnsupportedKem
                | DecryptError::NoMatchingStanza
                | DecryptError::DecryptionFailed => {}
            }
        }
        let unwrap = [
            StanzaUnwrapError::UnsupportedKem,
            StanzaUnwrapError::DecryptionFailed,
        ];
        for e in &unwrap {
            match e {
                StanzaUnwrapError::UnsupportedKem | StanzaUnwrapError::DecryptionFailed => {}
            }
        }
        let key = [
            KeyError::InvalidPublicKey,
            KeyError::InvalidSecretKey,
            KeyError::InvalidCiphertext,
        ];
        for e in &key {
            match e {
                KeyError::InvalidPublicKey
                | KeyError::InvalidSecretKey
                | KeyError::InvalidCiphertext => {}
            }
        }
        let response = [
            ResponseError::Malformed(ParseError::BadStanzaBody),
            ResponseError::NotTransport,
            ResponseError::UnsupportedKem,
            ResponseError::DecryptionFailed,
        ];
        for e in &response {
            match e {
                ResponseError::Malformed(_)
                | ResponseError::NotTransport
                | ResponseError::UnsupportedKem
                | ResponseError::DecryptionFailed => {}
            }
        }
        let mut codes: Vec<&'static str> = Vec::new();
        codes.extend(parse.iter().map(ParseError::code));
        codes.extend(build.iter().map(BuildError::code));
        codes.extend(encrypt.iter().map(EncryptError::code));
        codes.extend(decrypt.iter().map(DecryptError::code));
        codes.extend(unwrap.iter().map(StanzaUnwrapError::code));
        codes.extend(key.iter().map(KeyError::code));
        codes.extend(response.iter().map(ResponseError::code));
        codes
    }

    #[test]
    fn error_codes_lists_exactly_the_codes_of_every_error_variant() {
        let listed: BTreeSet<&str> = ERROR_CODES.iter().copied().collect();
        assert_eq!(listed.len(), ERROR_CODES.len(), "a code is listed twice");
        let produced: BTreeSet<&str> = every_code().into_iter().collect();
        assert_eq!(listed, produced);
    }
}
