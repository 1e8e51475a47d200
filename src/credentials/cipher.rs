//! Encryption of stored tokens with ChaCha20-Poly1305.
//!
//! A stored value is the 12-byte random nonce followed by the ciphertext and its tag. The
//! associated data names the row and the field, so a ciphertext copied into another row
//! or field fails to decrypt instead of being used as the wrong token.

use base64::Engine;
use chacha20poly1305::{
    ChaCha20Poly1305, Key, KeyInit, Nonce,
    aead::{Aead, AeadCore, OsRng, Payload},
};
use secrecy::{ExposeSecret, SecretString};

/// Length of the key, in bytes.
pub const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 12;

/// Encrypts and decrypts tokens with the key from `token_encryption_key`.
#[derive(Clone)]
pub struct TokenCipher {
    aead: ChaCha20Poly1305,
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCipher { .. }")
    }
}

/// A stored token that could not be decrypted.
#[derive(Debug, thiserror::Error)]
#[error(
    "a stored token could not be decrypted: the encryption key differs from the one it was stored with, or the row was changed"
)]
pub struct DecryptError;

impl TokenCipher {
    /// Builds the cipher from a base64-encoded 32-byte key.
    ///
    /// The error names the problem and how to make a key, never the key itself.
    pub fn from_base64(encoded: &SecretString) -> Result<TokenCipher, String> {
        let text = encoded.expose_secret().trim();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
            .map_err(|_| {
                "token_encryption_key is not valid base64: generate a key with `openssl rand -base64 32`"
                    .to_string()
            })?;
        if bytes.len() != KEY_BYTES {
            return Err(format!(
                "token_encryption_key decodes to {} bytes; it must be {KEY_BYTES} bytes (generate one with `openssl rand -base64 32`)",
                bytes.len()
            ));
        }
        Ok(TokenCipher {
            aead: ChaCha20Poly1305::new(Key::from_slice(&bytes)),
        })
    }

    /// Encrypts `plaintext`, binding it to `context` (such as `acme/ghl/refresh_token`).
    pub fn encrypt(&self, context: &str, plaintext: &SecretString) -> Vec<u8> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plaintext.expose_secret().as_bytes(),
            aad: context.as_bytes(),
        };
        // Encryption fails only for messages longer than 256 GiB.
        let ciphertext = self
            .aead
            .encrypt(&nonce, payload)
            .expect("a token fits the AEAD message limit");
        let mut stored = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
        stored.extend_from_slice(&nonce);
        stored.extend_from_slice(&ciphertext);
        stored
    }

    /// Decrypts a value written by [`TokenCipher::encrypt`] with the same `context`.
    pub fn decrypt(&self, context: &str, stored: &[u8]) -> Result<SecretString, DecryptError> {
        if stored.len() < NONCE_BYTES {
            return Err(DecryptError);
        }
        let (nonce, ciphertext) = stored.split_at(NONCE_BYTES);
        let payload = Payload {
            msg: ciphertext,
            aad: context.as_bytes(),
        };
        let plaintext = self
            .aead
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| DecryptError)?;
        let text = String::from_utf8(plaintext).map_err(|_| DecryptError)?;
        Ok(SecretString::from(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretString {
        SecretString::from(base64::engine::general_purpose::STANDARD.encode([7u8; KEY_BYTES]))
    }

    #[test]
    fn round_trip_and_context_binding() {
        let cipher = TokenCipher::from_base64(&key()).unwrap();
        let token = SecretString::from("refresh-abc".to_string());
        let stored = cipher.encrypt("acme/ghl/refresh_token", &token);
        assert!(!stored.windows(7).any(|window| window == b"refresh"));
        let back = cipher.decrypt("acme/ghl/refresh_token", &stored).unwrap();
        assert_eq!(back.expose_secret(), "refresh-abc");
        assert!(cipher.decrypt("other/ghl/refresh_token", &stored).is_err());
    }

    #[test]
    fn other_key_cannot_decrypt() {
        let cipher = TokenCipher::from_base64(&key()).unwrap();
        let stored = cipher.encrypt("t", &SecretString::from("x".to_string()));
        let other = SecretString::from(base64::engine::general_purpose::STANDARD.encode([8u8; 32]));
        let other = TokenCipher::from_base64(&other).unwrap();
        assert!(other.decrypt("t", &stored).is_err());
        assert!(cipher.decrypt("t", &stored[..5]).is_err());
    }

    #[test]
    fn bad_keys_are_rejected_without_echo() {
        let short = SecretString::from(base64::engine::general_purpose::STANDARD.encode([1u8; 16]));
        let error = TokenCipher::from_base64(&short).unwrap_err();
        assert!(error.contains("16 bytes"), "{error}");
        let garbage = SecretString::from("not base64 at all!".to_string());
        let error = TokenCipher::from_base64(&garbage).unwrap_err();
        assert!(!error.contains("not base64 at all"), "{error}");
        assert!(error.contains("openssl rand"), "{error}");
    }
}
