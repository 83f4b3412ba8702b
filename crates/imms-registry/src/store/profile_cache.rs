//! Matching profiles of stored persons kept in memory between groups, so that a group reads
//! a candidate's names and addresses only when they changed since an earlier group read them.
//!
//! A person's names and addresses are only ever added (no statement updates or deletes a row
//! of `person_names` or `person_addresses`), so how many of each a person has is the version
//! of that part of the profile. Every group reads, in its own transaction, each candidate's
//! persons row (date of birth, sex, merged or not) and the two counts; a kept profile is used
//! only when the counts, the date of birth and the sex all still match, so what another
//! process or node stored is seen as before. The matcher's decisions are those of reading everything each time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use imms_match::{Prepared, Profile};
use sqlx::AnyConnection;

use super::json_rows;
use super::match_keys;
use super::rows::Placeholders;
use super::StoreError;

/// Profiles kept at most (about a kilobyte each); the cache is emptied when full.
const MAX_ENTRIES: usize = 100_000;
/// Ids per IN list of one read.
const READ_CHUNK: usize = 5_000;

/// Normalized names and addresses of persons, with the counts they were read at.
#[derive(Default)]
pub(crate) struct ProfileCache {
    entries: Mutex<HashMap<i64, Entry>>,
}

impl std::fmt::Debug for ProfileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileCache").finish_non_exhaustive()
    }
}

struct Entry {
    names: i64,
    addresses: i64,
    /// The whole profile, shared with the groups that use it.
    prepared: Arc<Prepared>,
}

impl ProfileCache {
    /// The prepared profiles of `ids` (merged-away persons left out), as
    /// [`match_keys::read_profiles`] followed by [`Prepared::from_profile`] would give them.
    pub(crate) async fn read(
        &self,
        conn: &mut AnyConnection,
        ids: &[i64],
    ) -> Result<HashMap<i64, Arc<Prepared>>, StoreError> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(READ_CHUNK) {
            self.read_chunk(conn, chunk, &mut out).await?;
        }
        Ok(out)
    }

    async fn read_chunk(
        &self,
        conn: &mut AnyConnection,
        ids: &[i64],
        out: &mut HashMap<i64, Arc<Prepared>>,
    ) -> Result<(), StoreError> {
        let inner = format!(
            "SELECT p.id AS id, p.birth_date AS birth_date, p.sex AS sex, \
             (SELECT COUNT(*) FROM person_names n WHERE n.person_id = p.id) AS names, \
             (SELECT COUNT(*) FROM person_addresses a WHERE a.person_id = p.id) AS addresses \
             FROM persons p WHERE p.merged_into IS NULL AND p.id IN ({})",
            Placeholders::of(conn).list(1, ids.len())
        );
        let sql = json_rows::wrap(
            conn,
            &inner,
            &["id", "birth_date", "sex", "names", "addresses"],
            "",
        );
        let mut q = sqlx::query_as(&sql).persistent(false);
        for id in ids {
            q = q.bind(id);
        }
        let rows: Vec<(i64, String, String, i64, i64)> = json_rows::fetch(conn, q).await?;
        let mut missing: HashMap<i64, Profile> = HashMap::new();
        {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            for (id, birth_date, sex, names, addresses) in rows {
                // Id, date of birth and sex prepared as `Prepared::from_profile` does.
                let bare = Profile {
                    person_id: id,
                    birth_date: birth_date.parse().ok(),
                    sex: sex.chars().next(),
                    ..Default::default()
                };
                let head = Prepared::from_profile(&bare);
                match entries.get(&id) {
                    // Kept while its counts, date of birth and sex are those just read; a
                    // corrected date of birth or sex is read again like any change.
                    Some(e)
                        if e.names == names
                            && e.addresses == addresses
                            && e.prepared.birth_date == head.birth_date
                            && e.prepared.sex == head.sex =>
                    {
                        out.insert(id, e.prepared.clone());
                    }
                    _ => {
                        missing.insert(id, bare);
                    }
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let mut ids: Vec<i64> = missing.keys().copied().collect();
        ids.sort_unstable();
        match_keys::read_names_and_addresses(conn, &ids, false, &mut missing).await?;
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() + missing.len() > MAX_ENTRIES {
            entries.clear();
        }
        for (id, profile) in missing {
            let prepared = Arc::new(Prepared::from_profile(&profile));
            entries.insert(
                id,
                Entry {
                    names: profile.names.len() as i64,
                    addresses: profile.addresses.len() as i64,
                    prepared: prepared.clone(),
                },
            );
            out.insert(id, prepared);
        }
        Ok(())
    }
}
