//! ID-token signing keys (ES256, P-256), generated into the data directory on first start.
//!
//! `idp-signing-keys.json` holds every key still published: the active one (newest, not
//! retired) signs; retired ones stay in the JWKS until every token they signed has expired
//! (`retired_at + token lifetime + leeway`), then the next rotation drops them. Running
//! servers notice a rotation made by `imms keys rotate` by the file's modification time.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use p256::SecretKey;
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::clock::Timestamp;
use crate::secrets::{create_private, io, SecretError};

pub const KEYS_FILE: &str = "idp-signing-keys.json";
/// Lifetime of ID and access tokens.
pub const TOKEN_SECONDS: i64 = 600;
const LEEWAY_SECONDS: i64 = 300;

#[derive(Serialize, Deserialize, Clone)]
struct StoredKey {
    kid: String,
    created_at: Timestamp,
    retired_at: Option<Timestamp>,
    private_pkcs8_pem: String,
}

#[derive(Serialize, Deserialize, Default)]
struct StoredKeys {
    keys: Vec<StoredKey>,
}

struct LoadedKey {
    kid: String,
    retired_at: Option<Timestamp>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: serde_json::Value,
}

pub struct KeySet {
    keys: Vec<LoadedKey>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("the signing key file {0} is damaged: {1}")]
    Damaged(PathBuf, String),
    #[error("there is no active signing key")]
    NoActiveKey,
}

fn new_key(now: Timestamp) -> StoredKey {
    let secret = SecretKey::random(&mut OsRng);
    let pem = secret
        .to_pkcs8_pem(LineEnding::LF)
        .expect("PKCS#8 encoding of a P-256 key");
    let mut kid = [0u8; 12];
    OsRng.fill_bytes(&mut kid);
    StoredKey {
        kid: URL_SAFE_NO_PAD.encode(kid),
        created_at: now,
        retired_at: None,
        private_pkcs8_pem: pem.to_string(),
    }
}

fn load_key(path: &Path, k: &StoredKey) -> Result<LoadedKey, KeyError> {
    let damaged = |e: String| KeyError::Damaged(path.to_path_buf(), e);
    let secret =
        SecretKey::from_pkcs8_pem(&k.private_pkcs8_pem).map_err(|e| damaged(e.to_string()))?;
    let jwk = secret.public_key().to_jwk();
    let point = secret.public_key().to_sec1_bytes();
    // Uncompressed SEC1: 0x04 || x || y.
    let (x, y) = (&point[1..33], &point[33..65]);
    let (x, y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
    let decoding = DecodingKey::from_ec_components(&x, &y).map_err(|e| damaged(e.to_string()))?;
    let encoding = EncodingKey::from_ec_pem(k.private_pkcs8_pem.as_bytes())
        .map_err(|e| damaged(e.to_string()))?;
    let mut jwk: serde_json::Value =
        serde_json::from_str(&jwk.to_string()).map_err(|e| damaged(e.to_string()))?;
    jwk["kid"] = k.kid.clone().into();
    jwk["use"] = "sig".into();
    jwk["alg"] = "ES256".into();
    Ok(LoadedKey {
        kid: k.kid.clone(),
        retired_at: k.retired_at,
        encoding,
        decoding,
        jwk,
    })
}

fn read_stored(path: &Path) -> Result<StoredKeys, KeyError> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io(path))?);
    serde_json::from_str(&text).map_err(|e| KeyError::Damaged(path.to_path_buf(), e.to_string()))
}

fn write_stored(path: &Path, keys: &StoredKeys) -> Result<(), KeyError> {
    let text = Zeroizing::new(serde_json::to_string_pretty(keys).expect("keys as JSON"));
    let tmp = path.with_extension(format!("new{}", OsRng.next_u32()));
    create_private(&tmp, text.as_bytes())?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    Ok(())
}

/// Creates the key file with one key when it does not exist yet.
pub fn ensure(dir: &Path, now: Timestamp) -> Result<(), KeyError> {
    let path = dir.join(KEYS_FILE);
    if !path.exists() {
        let keys = StoredKeys {
            keys: vec![new_key(now)],
        };
        let text = Zeroizing::new(serde_json::to_string_pretty(&keys).expect("keys as JSON"));
        create_private(&path, text.as_bytes())?;
    }
    Ok(())
}

/// `imms keys rotate`: a new active key; the old one stays published until its tokens have
/// expired; keys retired long enough ago are dropped. Returns the new key id.
pub fn rotate(dir: &Path, now: Timestamp) -> Result<String, KeyError> {
    ensure(dir, now)?;
    let path = dir.join(KEYS_FILE);
    let mut stored = read_stored(&path)?;
    stored.keys.retain(|k| {
        k.retired_at
            .is_none_or(|r| r + TOKEN_SECONDS + LEEWAY_SECONDS > now)
    });
    for k in stored.keys.iter_mut() {
        if k.retired_at.is_none() {
            k.retired_at = Some(now);
        }
    }
    let key = new_key(now);
    let kid = key.kid.clone();
    stored.keys.push(key);
    write_stored(&path, &stored)?;
    Ok(kid)
}

impl KeySet {
    fn load(path: &Path, now: Timestamp) -> Result<KeySet, KeyError> {
        let stored = read_stored(path)?;
        let keys = stored
            .keys
            .iter()
            .filter(|k| {
                k.retired_at
                    .is_none_or(|r| r + TOKEN_SECONDS + LEEWAY_SECONDS > now)
            })
            .map(|k| load_key(path, k))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(KeySet { keys })
    }

    fn active(&self) -> Result<&LoadedKey, KeyError> {
        self.keys
            .iter()
            .rev()
            .find(|k| k.retired_at.is_none())
            .ok_or(KeyError::NoActiveKey)
    }

    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": self.keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
    }

    pub fn sign<T: Serialize>(&self, claims: &T, typ: &str) -> Result<String, KeyError> {
        let key = self.active()?;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.kid.clone());
        header.typ = Some(typ.to_string());
        Ok(jsonwebtoken::encode(&header, claims, &key.encoding).expect("ES256 signing"))
    }

    /// Verifies signature, expiry, issuer and (when given) audience.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
        audience: Option<&str>,
    ) -> Option<T> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::ES256 {
            return None;
        }
        let kid = header.kid?;
        let key = self.keys.iter().find(|k| k.kid == kid)?;
        let mut v = Validation::new(Algorithm::ES256);
        v.set_issuer(&[issuer]);
        v.leeway = 0;
        match audience {
            Some(a) => v.set_audience(&[a]),
            None => v.validate_aud = false,
        }
        jsonwebtoken::decode::<T>(token, &key.decoding, &v)
            .ok()
            .map(|d| d.claims)
    }
}

impl KeySet {
    /// Verifies signature and issuer only (for logout's ID token hint, which may have expired).
    pub fn verify_ignoring_expiry<T: DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
    ) -> Option<T> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let key = self
            .keys
            .iter()
            .find(|k| Some(&k.kid) == header.kid.as_ref())?;
        let mut v = Validation::new(Algorithm::ES256);
        v.set_issuer(&[issuer]);
        v.validate_exp = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        jsonwebtoken::decode::<T>(token, &key.decoding, &v)
            .ok()
            .map(|d| d.claims)
    }
}

/// The key set, reloaded when the file changes.
pub struct Keys {
    path: PathBuf,
    current: RwLock<(Option<SystemTime>, Arc<KeySet>)>,
}

impl Keys {
    pub fn open(dir: &Path, now: Timestamp) -> Result<Keys, KeyError> {
        ensure(dir, now)?;
        let path = dir.join(KEYS_FILE);
        let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        let set = KeySet::load(&path, now)?;
        Ok(Keys {
            path,
            current: RwLock::new((mtime, Arc::new(set))),
        })
    }

    pub fn current(&self, now: Timestamp) -> Arc<KeySet> {
        let mtime = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        {
            let cur = self.current.read().expect("keys lock");
            if cur.0 == mtime {
                return cur.1.clone();
            }
        }
        match KeySet::load(&self.path, now) {
            Ok(set) => {
                let set = Arc::new(set);
                *self.current.write().expect("keys lock") = (mtime, set.clone());
                set
            }
            Err(e) => {
                tracing::error!(error = %e, "could not reload the signing keys; keeping the loaded ones");
                self.current.read().expect("keys lock").1.clone()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct C {
        iss: String,
        aud: String,
        exp: i64,
        x: u32,
    }

    #[test]
    fn sign_verify_rotate_and_keep_old_keys_published() {
        let dir = tempfile::tempdir().unwrap();
        let now = chrono::Utc::now().timestamp();
        let keys = Keys::open(dir.path(), now).unwrap();
        let set = keys.current(now);
        let c = C {
            iss: "https://x/idp".into(),
            aud: "rp".into(),
            exp: now + 600,
            x: 7,
        };
        let t = set.sign(&c, "JWT").unwrap();
        assert_eq!(set.verify::<C>(&t, "https://x/idp", Some("rp")), Some(c));
        assert!(set
            .verify::<C>(&t, "https://x/idp", Some("other"))
            .is_none());
        assert!(set
            .verify::<C>(&t, "https://evil/idp", Some("rp"))
            .is_none());
        let mut tampered = t.clone();
        tampered.insert(t.len() / 2, 'A');
        assert!(set
            .verify::<C>(&tampered, "https://x/idp", Some("rp"))
            .is_none());
        assert_eq!(set.jwks()["keys"].as_array().unwrap().len(), 1);
        assert_eq!(set.jwks()["keys"][0]["kty"], "EC");
        assert!(set.jwks()["keys"][0].get("d").is_none(), "no private part");

        // Rotation: a new signing key; the old one still verifies.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let kid = rotate(dir.path(), now).unwrap();
        let set2 = keys.current(now);
        assert_eq!(set2.jwks()["keys"].as_array().unwrap().len(), 2);
        let t2 = set2
            .sign(
                &serde_json::json!({"iss":"https://x/idp","exp":now+60}),
                "JWT",
            )
            .unwrap();
        assert_eq!(jsonwebtoken::decode_header(&t2).unwrap().kid.unwrap(), kid);
        assert!(set2
            .verify::<serde_json::Value>(&t, "https://x/idp", None)
            .is_some());
        // Once its tokens have expired, the next rotation drops the old key.
        rotate(dir.path(), now + TOKEN_SECONDS + LEEWAY_SECONDS + 1).unwrap();
        let set3 = Keys::open(dir.path(), now + TOKEN_SECONDS + LEEWAY_SECONDS + 1)
            .unwrap()
            .current(now);
        let kids: Vec<String> = set3.jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(kids.len(), 2);
        assert!(kids.contains(&kid));
    }
}
