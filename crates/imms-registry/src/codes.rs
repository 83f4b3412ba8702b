//! Loading the code tables: from a directory laid out like `data/codes/` (`imms codes
//! load DIR`), into the store, and from the store at start-up. A new system stores the
//! embedded copy on first start, so it needs no extra step.

use std::path::Path;

use chrono::Utc;
use imms_core::codes::EMBEDDED_FILES;
use imms_core::{CodeTables, CodesError};

use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Codes(#[from] CodesError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Every `.tsv` file under `dir`, by path relative to it (with `/` separators).
pub fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, LoadError> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| LoadError::Io {
            path: d.display().to_string(),
            source,
        })?;
        for entry in entries {
            let path = entry
                .map_err(|source| LoadError::Io {
                    path: d.display().to_string(),
                    source,
                })?
                .path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "tsv") {
                let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Io {
                    path: path.display().to_string(),
                    source,
                })?;
                let rel = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                files.push((rel, text));
            }
        }
    }
    files.sort();
    Ok(files)
}

fn parse(files: &[(String, String)]) -> Result<CodeTables, CodesError> {
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    CodeTables::parse(&refs)
}

/// Checks the files parse, then replaces the stored tables with them.
pub async fn load_into_store(
    store: &Store,
    files: &[(String, String)],
) -> Result<CodeTables, LoadError> {
    let tables = parse(files)?;
    store.save_code_table_files(files, Utc::now()).await?;
    Ok(tables)
}

/// The stored tables; on first start, the embedded ones, stored.
pub async fn load_from_store(store: &Store) -> Result<CodeTables, LoadError> {
    let files = store.code_table_files().await?;
    if files.is_empty() {
        let embedded: Vec<(String, String)> = EMBEDDED_FILES
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        return load_into_store(store, &embedded).await;
    }
    Ok(parse(&files)?)
}
