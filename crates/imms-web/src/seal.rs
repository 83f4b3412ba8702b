//! Sealed values: data that must round-trip through the browser (a pending sign-in, the
//! identity read from an ID photo) without being stored on the server. Each value is
//! encrypted and authenticated (XChaCha20-Poly1305) under a key kept in the data directory,
//! bound to a purpose, and carries its own expiry, so it can be neither read, altered,
//! replayed for another purpose, nor used after it lapses.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::WebError;

const KEY_FILE: &str = "web-seal.key";
const NONCE_LEN: usize = 24;

#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    /// Unix seconds after which the value is refused.
    exp: i64,
    v: T,
}

impl Sealer {
    /// The key in `data_dir` (made on first use, readable by the owner only). Every node of
    /// a deployment must share the data directory's key for sealed values to move between them.
    pub fn load_or_create(data_dir: &Path) -> Result<Sealer, WebError> {
        let path = data_dir.join(KEY_FILE);
        let key = match std::fs::read(&path) {
            Ok(bytes) if bytes.len() == 32 => bytes,
            Ok(_) => return Err(WebError::Key(format!("{KEY_FILE} is not a 32-byte key"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(|e| WebError::Key(e.to_string()))?;
                let mut key = vec![0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut key);
                write_private(&path, &key)?;
                key
            }
            Err(e) => return Err(WebError::Key(e.to_string())),
        };
        Ok(Sealer::from_key(&key))
    }

    pub fn from_key(key: &[u8]) -> Sealer {
        Sealer {
            cipher: XChaCha20Poly1305::new_from_slice(key).expect("32-byte key"),
        }
    }

    /// Encrypt `value` for `purpose`, valid for `ttl_seconds`.
    pub fn seal<T: Serialize>(&self, purpose: &str, value: &T, ttl_seconds: i64) -> String {
        let envelope = Envelope {
            exp: chrono::Utc::now().timestamp() + ttl_seconds,
            v: value,
        };
        let plain = serde_json::to_vec(&envelope).expect("serializable value");
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: purpose.as_bytes(),
                },
            )
            .expect("encryption of an in-memory buffer");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// The value sealed for `purpose`, or `WebError::Sealed` when it was altered, sealed for
    /// another purpose or key, or has expired.
    pub fn open<T: DeserializeOwned>(&self, purpose: &str, sealed: &str) -> Result<T, WebError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(sealed.trim())
            .map_err(|_| WebError::Sealed)?;
        if bytes.len() <= NONCE_LEN {
            return Err(WebError::Sealed);
        }
        let (nonce, body) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| WebError::Sealed)?;
        let envelope: Envelope<T> = serde_json::from_slice(&plain).map_err(|_| WebError::Sealed)?;
        if envelope.exp < chrono::Utc::now().timestamp() {
            return Err(WebError::Sealed);
        }
        Ok(envelope.v)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), WebError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| WebError::Key(e.to_string()))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(|e| WebError::Key(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let sealer = Sealer::from_key(&[7u8; 32]);
        let sealed = sealer.seal("login", &("abc".to_string(), 5u32), 60);
        let back: (String, u32) = sealer.open("login", &sealed).unwrap();
        assert_eq!(back, ("abc".to_string(), 5));
        // Another purpose, another key, an altered byte, an expired value: all refused.
        assert!(sealer.open::<(String, u32)>("identity", &sealed).is_err());
        assert!(Sealer::from_key(&[8u8; 32])
            .open::<(String, u32)>("login", &sealed)
            .is_err());
        let mut altered = sealed.clone().into_bytes();
        let i = altered.len() / 2;
        altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
        assert!(sealer
            .open::<(String, u32)>("login", std::str::from_utf8(&altered).unwrap())
            .is_err());
        let expired = sealer.seal("login", &1u8, -1);
        assert!(sealer.open::<u8>("login", &expired).is_err());
        assert!(sealer.open::<u8>("login", "").is_err());
        assert!(sealer.open::<u8>("login", "!!!").is_err());
    }

    #[test]
    fn key_is_made_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let a = Sealer::load_or_create(dir.path()).unwrap();
        let b = Sealer::load_or_create(dir.path()).unwrap();
        let sealed = a.seal("p", &42u8, 60);
        assert_eq!(b.open::<u8>("p", &sealed).unwrap(), 42);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
