//! The issuer: the record's signing key (ES256, P-256), generated into the data directory on
//! first use, and what is published about it (the JWKS at `/.well-known/jwks.json`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use p256::SecretKey;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::RecordError;

/// The file in the data directory holding the SMART Health Card signing key (PKCS#8 PEM).
pub const KEY_FILE: &str = "shc-signing-key.pem";

/// Who issues records: the authority's name, its public URL (the SMART Health Card `iss`)
/// and its signing key. Load once at startup and share.
pub struct Issuer {
    pub(crate) name: String,
    pub(crate) public_url: String,
    key: SigningKey,
    kid: String,
    x: String,
    y: String,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("name", &self.name)
            .field("public_url", &self.public_url)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Issuer {
    /// Reads the signing key from `data_dir`, creating the directory and a new key (readable
    /// by the owner only) the first time. `name` is the issuing authority printed on the
    /// record; `public_url` the external base URL (a trailing slash is dropped).
    pub fn load_or_create(
        data_dir: &Path,
        name: &str,
        public_url: &str,
    ) -> Result<Issuer, RecordError> {
        let path = data_dir.join(KEY_FILE);
        let pem = match std::fs::read_to_string(&path) {
            Ok(text) => Zeroizing::new(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key(data_dir, &path)?,
            Err(e) => return Err(RecordError::Key(path, e.to_string())),
        };
        let secret = SecretKey::from_pkcs8_pem(&pem).map_err(|e| {
            RecordError::Key(
                path.clone(),
                format!("not a P-256 private key ({e}); move it away to make a new one"),
            )
        })?;
        Ok(Issuer::from_secret(secret, name, public_url))
    }

    fn from_secret(secret: SecretKey, name: &str, public_url: &str) -> Issuer {
        let point = secret.public_key().to_sec1_bytes();
        // Uncompressed SEC1: 0x04 || x || y.
        let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
        let y = URL_SAFE_NO_PAD.encode(&point[33..65]);
        // RFC 7638: SHA-256 over the required members in lexicographic order, no spaces.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        Issuer {
            name: name.trim().to_string(),
            public_url: public_url.trim().trim_end_matches('/').to_string(),
            key: SigningKey::from(secret),
            kid,
            x,
            y,
        }
    }

    /// The issuing authority's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The SMART Health Card issuer (`iss`): the public URL without a trailing slash.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The key id: the JWK thumbprint (RFC 7638) of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The address of the guide to reading the record, printed on the PDF.
    pub fn guide_url(&self) -> String {
        format!("{}/guide", self.public_url)
    }

    /// The JSON Web Key Set served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "EC",
                "kid": self.kid,
                "use": "sig",
                "alg": "ES256",
                "crv": "P-256",
                "x": self.x,
                "y": self.y,
            }]
        })
    }

    /// ES256 over `message`: the raw 64-byte r || s (JWS form, not DER).
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        let signature: Signature = self.key.sign(message);
        signature.to_bytes().into()
    }
}

fn create_key(dir: &Path, path: &PathBuf) -> Result<Zeroizing<String>, RecordError> {
    let io = |e: std::io::Error| RecordError::Key(path.clone(), e.to_string());
    std::fs::create_dir_all(dir).map_err(io)?;
    let secret = SecretKey::random(&mut rand::rngs::OsRng);
    let pem = secret
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| RecordError::Key(path.clone(), e.to_string()))?;
    // Written whole to a private temporary file, then linked into place: a concurrent
    // start never reads a half-written key, and the first one linked wins.
    let tmp = dir.join(format!(".{KEY_FILE}.{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(io)?;
    file.write_all(pem.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(Zeroizing::new(pem.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read_to_string(path)
            .map(Zeroizing::new)
            .map_err(io),
        Err(e) => Err(io(e)),
    }
}
