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

/// ML-KEM-768 (FIPS 203).
///
/// Two interchangeable implementations sit behind one API: RustCrypto's
/// `ml-kem` (the default, and what the WebAssembly build uses) and, with the
/// `libcrux` feature, Cryspen's formally verified `libcrux-ml-kem`, whose
/// AVX2 code (picked at run time, portable code otherwise) runs encapsulation
/// and decapsulation ~4-5x faster on x86-64. The key server and the CLI turn
/// the feature on. Both give byte-identical keys, ciphertexts and shared
/// secrets for the same seeds and randomness: the tests below compare them,
/// and the shared test vectors are checked with either.
pub mod mlkem768 {
    use super::{KeyError, SharedSecret};
    use rand_core::CryptoRng;
    use zeroize::Zeroizing;

    #[cfg(feature = "libcrux")]
    use libcrux as backend;
    #[cfg(not(feature = "libcrux"))]
    use rustcrypto as backend;

    /// Encapsulation (public) key length.
    pub const PUBLIC_KEY_LEN: usize = 1184;
    /// Ciphertext length.
    pub const CIPHERTEXT_LEN: usize = 1088;
    /// Secret key length in its seed form `d || z` (FIPS 203 §7.1).
    pub const SEED_LEN: usize = 64;

    /// An ML-KEM-768 encapsulation key, validated on construction.
    #[derive(Clone, PartialEq, Eq)]
    pub struct PublicKey(backend::EncapsulationKey);

    impl core::fmt::Debug for PublicKey {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("mlkem768::PublicKey")
        }
    }

    impl PublicKey {
        /// Parses and checks a 1184-byte encapsulation key (FIPS 203 §7.2 input check).
        pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
            let arr: &[u8; PUBLIC_KEY_LEN] =
                bytes.try_into().map_err(|_| KeyError::InvalidPublicKey)?;
            backend::EncapsulationKey::new(arr)
                .map(Self)
                .ok_or(KeyError::InvalidPublicKey)
        }

        /// The 1184-byte encoding.
        pub fn to_bytes(&self) -> Vec<u8> {
            self.0.to_bytes().to_vec()
        }

        /// Encapsulates a fresh shared secret to this key; draws the 32-byte
        /// message `m` from `rng`.
        pub fn encapsulate<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> (Vec<u8>, SharedSecret) {
            let mut m = Zeroizing::new([0u8; 32]);
            rng.fill_bytes(m.as_mut());
            let (ct, ss) = self.0.encapsulate(&m);
            (ct.to_vec(), SharedSecret(ss))
        }
    }

    /// An ML-KEM-768 decapsulation key. Zeroized on drop, no `Debug`,
    /// serialized only as its 64-byte seed.
    pub struct SecretKey(backend::DecapsulationKey);

    impl SecretKey {
        /// Generates a key pair from `rng`.
        pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
            let mut seed = Zeroizing::new([0u8; SEED_LEN]);
            rng.fill_bytes(seed.as_mut());
            Self(backend::DecapsulationKey::from_seed(&seed))
        }

        /// Rebuilds a key from its 64-byte seed.
        pub fn from_seed(seed: &[u8]) -> Result<Self, KeyError> {
            let seed: &[u8; SEED_LEN] = seed.try_into().map_err(|_| KeyError::InvalidSecretKey)?;
            Ok(Self(backend::DecapsulationKey::from_seed(seed)))
        }

        /// The 64-byte seed, in a zeroizing buffer.
        pub fn to_seed(&self) -> Zeroizing<[u8; SEED_LEN]> {
            self.0.seed()
        }

        /// The matching public key.
        pub fn public_key(&self) -> PublicKey {
            PublicKey(self.0.encapsulation_key())
        }

        /// Decapsulates a 1088-byte ciphertext. ML-KEM rejects implicitly: a
        /// wrong or tampered ciphertext yields an unrelated secret, which then
        /// fails to open the wrapped key (FORMAT.md W1).
        pub fn decapsulate(&self, ciphertext: &[u8]) -> Result<SharedSecret, KeyError> {
            let ct: &[u8; CIPHERTEXT_LEN] = ciphertext
                .try_into()
                .map_err(|_| KeyError::InvalidCiphertext)?;
            Ok(SharedSecret(self.0.decapsulate(ct)))
        }
    }

    /// RustCrypto `ml-kem`.
    #[cfg_attr(feature = "libcrux", allow(dead_code))]
    mod rustcrypto {
        use super::{CIPHERTEXT_LEN, PUBLIC_KEY_LEN, SEED_LEN};
        use ml_kem::{
            Decapsulate, KeyExport, MlKem768,
            ml_kem_768::{DecapsulationKey as Dk, EncapsulationKey as Ek},
        };
        use zeroize::Zeroizing;

        #[derive(Clone, PartialEq, Eq)]
        pub struct EncapsulationKey(Ek);

        impl EncapsulationKey {
            pub fn new(bytes: &[u8; PUBLIC_KEY_LEN]) -> Option<Self> {
                Ek::new(bytes.into()).ok().map(Self)
            }

            pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
                self.0.to_bytes().into()
            }

            pub fn encapsulate(&self, m: &[u8; 32]) -> ([u8; CIPHERTEXT_LEN], Zeroizing<[u8; 32]>) {
                let (ct, ss) = self.0.encapsulate_deterministic(&(*m).into());
                let mut secret = Zeroizing::new([0u8; 32]);
                secret.copy_from_slice(&ss);
                (ct.into(), secret)
            }
        }

        /// Zeroized on drop by ml-kem's `zeroize` feature.
        pub struct DecapsulationKey(Dk);

        impl DecapsulationKey {
            pub fn from_seed(seed: &[u8; SEED_LEN]) -> Self {
                Self(Dk::from_seed(ml_kem::Seed::from(*seed)))
            }

            pub fn seed(&self) -> Zeroizing<[u8; SEED_LEN]> {
                let mut out = Zeroizing::new([0u8; SEED_LEN]);
                out.copy_from_slice(&self.0.to_bytes());
                out
            }

            pub fn encapsulation_key(&self) -> EncapsulationKey {
                EncapsulationKey(self.0.encapsulation_key().clone())
            }

            pub fn decapsulate(&self, ct: &[u8; CIPHERTEXT_LEN]) -> Zeroizing<[u8; 32]> {
                let ct: &ml_kem::Ciphertext<MlKem768> = ct.into();
                let ss = self.0.decapsulate(ct);
                let mut secret = Zeroizing::new([0u8; 32]);
                secret.copy_from_slice(&ss);
                secret
            }
        }
    }

    /// Cryspen `libcrux-ml-kem` (multiplexed: AVX2 when the CPU has it).
    #[cfg(feature = "libcrux")]
    mod libcrux {
        use super::{CIPHERTEXT_LEN, PUBLIC_KEY_LEN, SEED_LEN};
        use libcrux_ml_kem::mlkem768::{
            self as k, MlKem768Ciphertext, MlKem768PrivateKey, MlKem768PublicKey,
        };
        use zeroize::Zeroizing;

        #[derive(Clone)]
        pub struct EncapsulationKey(MlKem768PublicKey);

        impl PartialEq for EncapsulationKey {
            fn eq(&self, other: &Self) -> bool {
                self.0.as_slice() == other.0.as_slice()
            }
        }

        impl Eq for EncapsulationKey {}

        impl EncapsulationKey {
            pub fn new(bytes: &[u8; PUBLIC_KEY_LEN]) -> Option<Self> {
                let key = MlKem768PublicKey::from(bytes);
                k::validate_public_key(&key).then_some(Self(key))
            }

            pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
                *self.0.as_slice()
            }

            pub fn encapsulate(&self, m: &[u8; 32]) -> ([u8; CIPHERTEXT_LEN], Zeroizing<[u8; 32]>) {
                let (ct, ss) = k::encapsulate(&self.0, *m);
                (*ct.as_slice(), Zeroizing::new(ss))
            }
        }

        /// The seed and the expanded 2400-byte key. libcrux types have no
        /// `Zeroize`; `Drop` overwrites the expanded key in place (through
        /// `black_box`, so the store is not optimized away), the seed is in
        /// a `Zeroizing` buffer.
        pub struct DecapsulationKey {
            seed: Zeroizing<[u8; SEED_LEN]>,
            private: MlKem768PrivateKey,
            public: MlKem768PublicKey,
        }

        impl Drop for DecapsulationKey {
            fn drop(&mut self) {
                self.private = MlKem768PrivateKey::default();
                core::hint::black_box(&self.private);
            }
        }

        impl DecapsulationKey {
            pub fn from_seed(seed: &[u8; SEED_LEN]) -> Self {
                let (private, public) = k::generate_key_pair(*seed).into_parts();
                Self {
                    seed: Zeroizing::new(*seed),
                    private,
                    public,
                }
            }

            pub fn seed(&self) -> Zeroizing<[u8; SEED_LEN]> {
                self.seed.clone()
            }

            pub fn encapsulation_key(&self) -> EncapsulationKey {
                EncapsulationKey(self.public.clone())
            }

            pub fn decapsulate(&self, ct: &[u8; CIPHERTEXT_LEN]) -> Zeroizing<[u8; 32]> {
                Zeroizing::new(k::decapsulate(&self.private, &MlKem768Ciphertext::from(ct)))
            }
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

        /// The two implementations agree byte for byte: key generation from
        /// the same seed, encapsulation with the same `m`, decapsulation of
        /// honest and of random (implicitly rejected) ciphertexts, and the
        /// public-key check on keys with out-of-range coefficients.
        #[cfg(feature = "libcrux")]
        mod libcrux_matches_rustcrypto {
            use super::super::{CIPHERTEXT_LEN, PUBLIC_KEY_LEN};
            use super::super::{libcrux, rustcrypto};
            use proptest::prelude::*;

            proptest! {
                #![proptest_config(ProptestConfig::with_cases(64))]

                #[test]
                fn same_keys_ciphertexts_and_secrets(
                    seed in prop::array::uniform32(any::<u8>()),
                    seed2 in prop::array::uniform32(any::<u8>()),
                    m in prop::array::uniform32(any::<u8>()),
                    junk in prop::collection::vec(any::<u8>(), CIPHERTEXT_LEN),
                ) {
                    let mut full = [0u8; 64];
                    full[..32].copy_from_slice(&seed);
                    full[32..].copy_from_slice(&seed2);
                    let a = rustcrypto::DecapsulationKey::from_seed(&full);
                    let b = libcrux::DecapsulationKey::from_seed(&full);
                    let pk = a.encapsulation_key().to_bytes();
                    prop_assert_eq!(pk, b.encapsulation_key().to_bytes());
                    prop_assert_eq!(&a.seed()[..], &b.seed()[..]);

                    let (ct_a, ss_a) = a.encapsulation_key().encapsulate(&m);
                    let (ct_b, ss_b) = b.encapsulation_key().encapsulate(&m);
                    prop_assert_eq!(ct_a, ct_b);
                    prop_assert_eq!(*ss_a, *ss_b);
                    prop_assert_eq!(*b.decapsulate(&ct_a), *ss_a);
                    prop_assert_eq!(*a.decapsulate(&ct_b), *ss_b);

                    let junk: [u8; CIPHERTEXT_LEN] = junk.try_into().unwrap();
                    let reject = a.decapsulate(&junk);
                    prop_assert_eq!(*reject, *b.decapsulate(&junk));
                    prop_assert_ne!(*reject, *ss_a);

                    // Public keys re-parsed by the other side.
                    prop_assert!(libcrux::EncapsulationKey::new(&pk).is_some());
                    prop_assert!(rustcrypto::EncapsulationKey::new(&pk).is_some());
                }

                #[test]
                fn same_public_key_check(
                    seed in prop::array::uniform32(any::<u8>()),
                    at in 0usize..(PUBLIC_KEY_LEN - 32),
                    high in any::<bool>(),
                ) {
                    let mut full = [0u8; 64];
                    full[..32].copy_from_slice(&seed);
                    let mut pk = rustcrypto::DecapsulationKey::from_seed(&full)
                        .encapsulation_key()
                        .to_bytes();
                    // Force the 12-bit coefficient that starts in byte `at`
                    // (or its neighbour) to 0xfff >= q.
                    let i = at - at % 3;
                    if high {
                        pk[i + 1] |= 0xf0;
                        pk[i + 2] = 0xff;
                    } else {
                        pk[i] = 0xff;
                        pk[i + 1] |= 0x0f;
                    }
                    prop_assert!(rustcrypto::EncapsulationKey::new(&pk).is_none());
                    prop_assert!(libcrux::EncapsulationKey::new(&pk).is_none());
                }
            }
        }
    }
}
