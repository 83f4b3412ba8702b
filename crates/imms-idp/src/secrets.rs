//! Secrets generated into the data directory on first use: the SSN pepper, the key for CSRF
//! tokens, and the ID-token signing keys (see [`crate::keys`]). Files are created with mode
//! 0600 and never overwritten: when two processes start at once, the first one's file wins
//! and the other reads it.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::ssn::hex;

pub const PEPPER_FILE: &str = "idp-ssn-pepper.key";
pub const CSRF_FILE: &str = "idp-csrf.key";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("could not read or write the secret file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the secret file {0} is damaged (expected 64 hex digits)")]
    Damaged(PathBuf),
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SecretError + '_ {
    move |source| SecretError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `content` to a new file with mode 0600; false when it already exists.
pub(crate) fn create_private(path: &Path, content: &[u8]) -> Result<bool, SecretError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(path))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    // Write to a temporary name, then link into place: readers never see half a file.
    let tmp = path.with_extension(format!("tmp{}", OsRng.next_u32()));
    let mut f = options.open(&tmp).map_err(io(path))?;
    f.write_all(content).map_err(io(path))?;
    f.sync_all().map_err(io(path))?;
    drop(f);
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io(path)(e)),
    }
}

/// 32 random bytes kept as hex in `dir/name`, generated when missing.
pub fn load_or_generate_key(dir: &Path, name: &str) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    let path = dir.join(name);
    if !path.exists() {
        let mut key = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut *key);
        let text = Zeroizing::new(format!("{}\n", hex(&*key)));
        create_private(&path, text.as_bytes())?;
    }
    let text = Zeroizing::new(std::fs::read_to_string(&path).map_err(io(&path))?);
    let t = text.trim();
    if t.len() != 64 {
        return Err(SecretError::Damaged(path));
    }
    let mut out = Zeroizing::new(Vec::with_capacity(32));
    for i in (0..64).step_by(2) {
        let b =
            u8::from_str_radix(&t[i..i + 2], 16).map_err(|_| SecretError::Damaged(path.clone()))?;
        out.push(b);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_generate_key(dir.path(), PEPPER_FILE).unwrap();
        let b = load_or_generate_key(dir.path(), PEPPER_FILE).unwrap();
        assert_eq!(*a, *b);
        assert_eq!(a.len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(PEPPER_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(dir.path().join(CSRF_FILE), "short").unwrap();
        assert!(matches!(
            load_or_generate_key(dir.path(), CSRF_FILE),
            Err(SecretError::Damaged(_))
        ));
    }
}
