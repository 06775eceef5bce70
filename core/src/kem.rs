//! Key encapsulation (FORMAT.md §3.1, §4). Only ML-KEM-768 today; the stanza
//! encoding leaves room for more.

use zeroize::Zeroizing;

/// A 32-byte KEM shared secret. Zeroized on drop, no `Debug`.
pub struct SharedSecret(pub(crate) Zeroizing<[u8; 32]>);

impl SharedSecret {
    /// Wraps raw bytes (for callers that run the KEM elsewhere, e.g. WebCrypto).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The secret bytes.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Errors about KEM key and ciphertext encodings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// A public key of the wrong length or failing the FIPS 203 modulus check.
    InvalidPublicKey,
    /// A secret key (seed) of the wrong length.
    InvalidSecretKey,
    /// A KEM ciphertext of the wrong length.
    InvalidCiphertext,
}

impl KeyError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidPublicKey => "invalid_public_key",
            Self::InvalidSecretKey => "invalid_secret_key",
            Self::InvalidCiphertext => "invalid_ciphertext",
        }
    }
}

impl core::fmt::Display for KeyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::InvalidPublicKey => {
                "invalid ML-KEM-768 public key (must be 1184 bytes and pass the FIPS 203 check)"
            }
            Self::InvalidSecretKey => "invalid ML-KEM-768 secret key (must be a 64-byte seed)",
            Self::InvalidCiphertext => "invalid ML-KEM-768 ciphertext (must be 1088 bytes)",
        })
    }
}

impl core::error::Error for KeyError {}

/// ML-KEM-768 (FIPS 203) through RustCrypto's `ml-kem`.
pub mod mlkem768 {
    use super::{KeyError, SharedSecret};
    use ml_kem::{
        Decapsulate, Encapsulate, KeyExport, MlKem768,
        ml_kem_768::{DecapsulationKey, EncapsulationKey},
    };
    use rand_core::CryptoRng;
    use zeroize::Zeroizing;

    /// Encapsulation (public) key length.
    pub const PUBLIC_KEY_LEN: usize = 1184;
    /// Ciphertext length.
    pub const CIPHERTEXT_LEN: usize = 1088;
    /// Secret key length in its seed form `d || z` (FIPS 203 §7.1).
    pub const SEED_LEN: usize = 64;

    /// An ML-KEM-768 encapsulation key, validated on construction.
    #[derive(Clone, PartialEq, Eq)]
    pub struct PublicKey(EncapsulationKey);

    impl core::fmt::Debug for PublicKey {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("mlkem768::PublicKey")
        }
    }

    impl PublicKey {
        /// Parses and checks a 1184-byte encapsulation key (FIPS 203 §7.2 input check).
        pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
            let arr = bytes.try_into().map_err(|_| KeyError::InvalidPublicKey)?;
            EncapsulationKey::new(arr)
                .map(Self)
                .map_err(|_| KeyError::InvalidPublicKey)
        }

        /// The 1184-byte encoding.
        pub fn to_bytes(&self) -> Vec<u8> {
            self.0.to_bytes().to_vec()
        }

        /// Encapsulates a fresh shared secret to this key.
        pub fn encapsulate<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> (Vec<u8>, SharedSecret) {
            let (ct, ss) = self.0.encapsulate_with_rng(rng);
            let mut secret = Zeroizing::new([0u8; 32]);
            secret.copy_from_slice(&ss);
            (ct.to_vec(), SharedSecret(secret))
        }
    }

    /// An ML-KEM-768 decapsulation key. Zeroized on drop (ml-kem `zeroize`
    /// feature), no `Debug`, serialized only as its 64-byte seed.
    pub struct SecretKey(DecapsulationKey);

    impl SecretKey {
        /// Generates a key pair from `rng`.
        pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
            let mut seed = Zeroizing::new([0u8; SEED_LEN]);
            rng.fill_bytes(seed.as_mut());
            Self::from_seed_bytes(&seed)
        }

        fn from_seed_bytes(seed: &[u8; SEED_LEN]) -> Self {
            let seed = ml_kem::Seed::from(*seed);
            Self(DecapsulationKey::from_seed(seed))
        }

        /// Rebuilds a key from its 64-byte seed.
        pub fn from_seed(seed: &[u8]) -> Result<Self, KeyError> {
            let seed: &[u8; SEED_LEN] = seed.try_into().map_err(|_| KeyError::InvalidSecretKey)?;
            Ok(Self::from_seed_bytes(seed))
        }

        /// The 64-byte seed, in a zeroizing buffer.
        pub fn to_seed(&self) -> Zeroizing<[u8; SEED_LEN]> {
            let mut out = Zeroizing::new([0u8; SEED_LEN]);
            out.copy_from_slice(&self.0.to_bytes());
            out
        }

        /// The matching public key.
        pub fn public_key(&self) -> PublicKey {
            PublicKey(self.0.encapsulation_key().clone())
        }

        /// Decapsulates a 1088-byte ciphertext. ML-KEM rejects implicitly: a
        /// wrong or tampered ciphertext yields an unrelated secret, which then
        /// fails to open the wrapped key (FORMAT.md W1).
        pub fn decapsulate(&self, ciphertext: &[u8]) -> Result<SharedSecret, KeyError> {
            let ct: &ml_kem::Ciphertext<MlKem768> = ciphertext
                .try_into()
                .map_err(|_| KeyError::InvalidCiphertext)?;
            let ss = self.0.decapsulate(ct);
            let mut secret = Zeroizing::new([0u8; 32]);
            secret.copy_from_slice(&ss);
            Ok(SharedSecret(secret))
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use rand_chacha::ChaCha20Rng;
        use rand_core::SeedableRng;

        #[test]
        fn encapsulate_decapsulate_agree_and_seed_round_trips() {
            let mut rng = ChaCha20Rng::seed_from_u64(1);
            let sk = SecretKey::generate(&mut rng);
            let pk = sk.public_key();
            assert_eq!(pk.to_bytes().len(), PUBLIC_KEY_LEN);
            let (ct, ss) = pk.encapsulate(&mut rng);
            assert_eq!(ct.len(), CIPHERTEXT_LEN);
            assert_eq!(sk.decapsulate(&ct).unwrap().expose(), ss.expose());
            let sk2 = SecretKey::from_seed(sk.to_seed().as_ref()).unwrap();
            assert_eq!(sk2.decapsulate(&ct).unwrap().expose(), ss.expose());
            assert_eq!(PublicKey::from_bytes(&pk.to_bytes()).unwrap(), pk);
        }

        #[test]
        fn malformed_keys_and_ciphertexts_are_rejected() {
            assert_eq!(
                PublicKey::from_bytes(&[0u8; 10]).unwrap_err(),
                KeyError::InvalidPublicKey
            );
            // Coefficients ≥ q fail the FIPS 203 modulus check.
            assert_eq!(
                PublicKey::from_bytes(&[0xff; PUBLIC_KEY_LEN]).unwrap_err(),
                KeyError::InvalidPublicKey
            );
            assert!(SecretKey::from_seed(&[0u8; 63]).is_err());
            let sk = SecretKey::generate(&mut ChaCha20Rng::seed_from_u64(2));
            assert!(sk.decapsulate(&[0u8; 1087]).is_err());
        }
    }
}
