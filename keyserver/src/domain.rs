//! Domain newtypes: each is built only by parsing or generating, so a handler
//! holding one knows it is well formed.

use core::fmt;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub use pqfile_core::DocumentId;

/// An `encryption_keys.id`: 1 ..= 2³¹−1 (FORMAT.md S5). Key id 0 is the
/// transport stanza's and never names a stored key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(i32);

impl KeyId {
    /// Accepts ids in the range a stanza may carry.
    pub fn new(id: u32) -> Option<Self> {
        i32::try_from(id).ok().filter(|v| *v > 0).map(Self)
    }

    /// Parses the decimal form used in URLs.
    ///
    /// ```
    /// use pqfile_keyserver::domain::KeyId;
    /// assert_eq!(KeyId::parse("42").map(KeyId::get), Some(42));
    /// assert!(KeyId::parse("0").is_none(), "key id 0 is the transport stanza's");
    /// assert!(KeyId::parse("2147483648").is_none(), "beyond a PostgreSQL SERIAL");
    /// ```
    pub fn parse(s: &str) -> Option<Self> {
        if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse::<u32>().ok().and_then(Self::new)
    }

    /// Wraps a value read from the database.
    pub fn from_db(id: i32) -> Self {
        Self(id)
    }

    /// The database value.
    pub fn get(self) -> i32 {
        self.0
    }

    /// The value a stanza carries.
    pub fn as_u32(self) -> u32 {
        self.0.unsigned_abs()
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A user's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// May create documents and unwrap its own.
    User,
    /// May also unwrap every document.
    Admin,
}

impl Role {
    /// Parses the database value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Self::User),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    /// The database value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
        }
    }
}

/// The caller of a `/v1` route, after its bearer token checked out.
#[derive(Clone, Debug)]
pub struct AuthenticatedUser {
    /// `users.id`.
    pub id: i32,
    /// `users.name`.
    pub name: String,
    /// The user's role.
    pub role: Role,
}

const TOKEN_PREFIX: &str = "pqf_";
const TOKEN_RANDOM_LEN: usize = 32;

/// A bearer API token. Shown once at creation; only its SHA-256 is stored.
/// No `Debug`/`Display`, zeroized on drop.
pub struct ApiToken(Zeroizing<String>);

impl ApiToken {
    /// A fresh token: `pqf_` and 64 hex digits (256 random bits).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut raw = Zeroizing::new([0u8; TOKEN_RANDOM_LEN]);
        rng.fill_bytes(raw.as_mut());
        let mut s = String::with_capacity(TOKEN_PREFIX.len() + 2 * TOKEN_RANDOM_LEN);
        s.push_str(TOKEN_PREFIX);
        s.push_str(&hex::encode(raw.as_ref()));
        Self(Zeroizing::new(s))
    }

    /// Accepts a presented token of the right shape (cheap check before hashing).
    pub fn parse(s: &str) -> Option<Self> {
        let rest = s.strip_prefix(TOKEN_PREFIX)?;
        (rest.len() == 2 * TOKEN_RANDOM_LEN && rest.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Self(Zeroizing::new(s.to_owned())))
    }

    /// The secret text, for showing it to its owner exactly once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database stores: hex SHA-256 of the token text.
    ///
    /// ```
    /// use pqfile_keyserver::domain::{ApiToken, rng};
    /// let token = ApiToken::generate(&mut rng());
    /// assert!(token.expose().starts_with("pqf_"));
    /// let presented = ApiToken::parse(token.expose()).unwrap();
    /// assert_eq!(presented.hash(), token.hash());
    /// assert_ne!(token.hash(), token.expose());
    /// ```
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

/// The process's CSPRNG: the operating system's, panicking only if the OS
/// cannot provide randomness (nothing sensible can continue then).
pub fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_rejects_zero_negative_and_overflow() {
        assert_eq!(KeyId::parse("7").map(KeyId::get), Some(7));
        assert!(KeyId::parse("0").is_none());
        assert!(KeyId::parse("-1").is_none());
        assert!(KeyId::parse("2147483648").is_none());
        assert!(KeyId::parse("").is_none());
        assert!(KeyId::parse("1e3").is_none());
        assert!(KeyId::new(0).is_none());
    }

    #[test]
    fn token_round_trips_through_parse_and_hash_is_stable() {
        let t = ApiToken::generate(&mut rng());
        let again = ApiToken::parse(t.expose()).expect("generated token parses");
        assert_eq!(t.hash(), again.hash());
        assert_eq!(t.hash().len(), 64);
        assert!(ApiToken::parse("pqf_short").is_none());
        assert!(ApiToken::parse(&t.expose().replace("pqf_", "xyz_")).is_none());
    }
}
