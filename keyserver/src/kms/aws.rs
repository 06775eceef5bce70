//! AWS KMS (or any endpoint speaking its API, such as moto) through
//! aws-sdk-kms: `Encrypt`/`Decrypt` of the seed under a symmetric KMS key,
//! with an EncryptionContext naming the key id and the purpose.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::future::BoxFuture;
use pqfile_core::mlkem768::SEED_LEN;
use zeroize::Zeroizing;

use super::{CONTEXT_KEY_ID, CONTEXT_PURPOSE, KeyWrapper, KmsError, Purpose, Seed, WrappedKey};
use crate::domain::KeyId;

/// Service error codes that mean "this ciphertext or key is wrong", not "try later".
const REJECTION_CODES: &[&str] = &[
    "InvalidCiphertextException",
    "IncorrectKeyException",
    "NotFoundException",
    "InvalidKeyUsageException",
    "DisabledException",
    "KMSInvalidStateException",
];

/// A KMS client bound to one KMS key.
pub struct AwsKms {
    client: aws_sdk_kms::Client,
    key_id: String,
}

impl AwsKms {
    /// Builds a client from the standard AWS credential chain (environment,
    /// profile, instance role), with `region` and an optional endpoint override.
    pub async fn connect(key_id: String, region: String, endpoint: Option<String>) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new(region))
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_timeout(Duration::from_secs(5))
                    .build(),
            );
        if let Some(url) = endpoint {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        Self {
            client: aws_sdk_kms::Client::new(&config),
            key_id,
        }
    }

    /// The underlying client (tests and the `kms create-key` command use it).
    pub fn client(&self) -> &aws_sdk_kms::Client {
        &self.client
    }

    fn classify<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> KmsError {
        match err {
            SdkError::ServiceError(se) => {
                let code = se.err().code().unwrap_or("unknown");
                if REJECTION_CODES.contains(&code) {
                    KmsError::Rejected(code.to_owned())
                } else {
                    KmsError::Unavailable(code.to_owned())
                }
            }
            SdkError::DispatchFailure(_) => {
                KmsError::Unavailable("dispatch failure (unreachable or no credentials)".into())
            }
            SdkError::TimeoutError(_) => KmsError::Unavailable("timeout".into()),
            _ => KmsError::Unavailable("unexpected response".into()),
        }
    }
}

impl KeyWrapper for AwsKms {
    fn wrap<'a>(
        &'a self,
        purpose: Purpose,
        key_id: KeyId,
        seed: &'a [u8; SEED_LEN],
    ) -> BoxFuture<'a, Result<WrappedKey, KmsError>> {
        Box::pin(async move {
            let out = self
                .client
                .encrypt()
                .key_id(&self.key_id)
                .plaintext(Blob::new(seed.as_slice()))
                .encryption_context(CONTEXT_KEY_ID, key_id.to_string())
                .encryption_context(CONTEXT_PURPOSE, purpose.as_str())
                .send()
                .await
                .map_err(|e| Self::classify(&e))?;
            let blob = out
                .ciphertext_blob()
                .ok_or_else(|| KmsError::Unavailable("no ciphertext in response".into()))?;
            Ok(WrappedKey {
                ciphertext: STANDARD.encode(blob.as_ref()),
                kms_key_id: self.key_id.clone(),
                kms_key_arn: out.key_id().map(str::to_owned),
            })
        })
    }

    fn unwrap<'a>(
        &'a self,
        purpose: Purpose,
        key_id: KeyId,
        wrapped: &'a WrappedKey,
    ) -> BoxFuture<'a, Result<Seed, KmsError>> {
        Box::pin(async move {
            let blob = STANDARD
                .decode(&wrapped.ciphertext)
                .map_err(|_| KmsError::Rejected("wrapped key is not base64".into()))?;
            // Name the key explicitly: KMS then refuses a ciphertext of any other key.
            let kms_key = wrapped
                .kms_key_arn
                .as_deref()
                .unwrap_or(&wrapped.kms_key_id);
            let out = self
                .client
                .decrypt()
                .key_id(kms_key)
                .ciphertext_blob(Blob::new(blob))
                .encryption_context(CONTEXT_KEY_ID, key_id.to_string())
                .encryption_context(CONTEXT_PURPOSE, purpose.as_str())
                .send()
                .await
                .map_err(|e| Self::classify(&e))?;
            // The SDK's response buffer is not zeroized; ours is.
            let plain = out
                .plaintext()
                .ok_or_else(|| KmsError::Unavailable("no plaintext in response".into()))?;
            let bytes: &[u8] = plain.as_ref();
            if bytes.len() != SEED_LEN {
                return Err(KmsError::Rejected(
                    "unwrapped key has the wrong length".into(),
                ));
            }
            let mut seed: Seed = Zeroizing::new([0u8; SEED_LEN]);
            seed.copy_from_slice(bytes);
            Ok(seed)
        })
    }

    fn kind(&self) -> &'static str {
        "aws"
    }
}
