//! Matching profiles of stored persons kept in memory between groups, so that a group reads
//! a candidate's names and addresses only when they changed since an earlier group read or
//! wrote them (a committed group keeps the persons it created: in an import, most
//! candidates are persons an earlier group of the same import created).
//!
//! A person's names and addresses are only ever added (no statement updates or deletes a row
//! of `person_names` or `person_addresses`), and the one statement path that adds them to a
//! stored person raises `persons.profile_version`. Every group reads, in its own
//! transaction, each candidate's persons row (date of birth, sex, merged or not, profile
//! version); a kept profile is used only when the version, the date of birth and the sex all
//! still match, so what another process or node stored is seen as before. The matcher's decisions are those of reading everything each time.
//!
//! One exception: SQLite's group writer, while no other connection commits and it only adds
//! persons, takes the profiles it wrote or checked unchecked when it routes a group ahead (a
//! trust epoch, [`ProfileCache::new_epoch`]); should either stop being true, it reads that
//! group again (`pipeline`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use imms_match::{Prepared, Profile};
use sqlx::AnyConnection;

use super::json_rows;
use super::match_keys;
use super::rows::{int_array, Placeholders};
use super::StoreError;

/// Profiles kept at most (about a kilobyte each); the cache is emptied when full.
const MAX_ENTRIES: usize = 100_000;
/// Ids per IN list of one read.
const READ_CHUNK: usize = 5_000;

/// Normalized names and addresses of persons, with the counts they were read at.
#[derive(Default)]
pub(crate) struct ProfileCache {
    entries: Mutex<HashMap<i64, Entry>>,
    /// The last trust epoch given out (see [`ProfileCache::new_epoch`]).
    epochs: AtomicU64,
}

impl std::fmt::Debug for ProfileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileCache").finish_non_exhaustive()
    }
}

struct Entry {
    /// `persons.profile_version` when read or written.
    version: i64,
    /// The whole profile, shared with the groups that use it.
    prepared: Arc<Prepared>,
    /// The trust epoch it was written or checked in (0: none).
    epoch: u64,
}

impl ProfileCache {
    /// The prepared profiles of `ids` (merged-away persons left out), as
    /// [`match_keys::read_profiles`] followed by [`Prepared::from_profile`] would give them.
    ///
    /// With a trust epoch (not 0), profiles written or checked in that epoch are used
    /// without reading the store, and those checked now are marked with it: see
    /// [`ProfileCache::new_epoch`].
    pub(crate) async fn read(
        &self,
        conn: &mut AnyConnection,
        ids: &[i64],
        epoch: u64,
    ) -> Result<HashMap<i64, Arc<Prepared>>, StoreError> {
        let mut out = HashMap::with_capacity(ids.len());
        let mut unsure = Vec::with_capacity(ids.len());
        if epoch == 0 {
            unsure.extend_from_slice(ids);
        } else {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            for id in ids {
                match entries.get(id) {
                    Some(e) if e.epoch == epoch => {
                        out.insert(*id, e.prepared.clone());
                    }
                    _ => unsure.push(*id),
                }
            }
        }
        for chunk in unsure.chunks(READ_CHUNK) {
            self.read_chunk(conn, chunk, epoch, &mut out).await?;
        }
        Ok(out)
    }

    /// A new trust epoch. Its holder promises that nothing changes a stored person's
    /// profile while the epoch is the one it reads with, except through
    /// [`ProfileCache::remember`] with that epoch: SQLite's group writer, which takes a new
    /// epoch whenever another connection committed or it changed stored persons itself
    /// (`pipeline`). Anything read with a broken promise is thrown away there.
    pub(crate) fn new_epoch(&self) -> u64 {
        self.epochs.fetch_add(1, Ordering::Relaxed) + 1
    }

    async fn read_chunk(
        &self,
        conn: &mut AnyConnection,
        ids: &[i64],
        epoch: u64,
        out: &mut HashMap<i64, Arc<Prepared>>,
    ) -> Result<(), StoreError> {
        let style = Placeholders::of(conn);
        let columns = "id, birth_date, sex, profile_version";
        let inner = match style {
            Placeholders::Positional => format!(
                "SELECT {columns} FROM persons WHERE merged_into IS NULL AND id IN ({})",
                style.list(1, ids.len())
            ),
            // One index look-up per id: given a long IN list, PostgreSQL scans the table
            // (see `group_reads::probe_sql`), and the table grows with the registry. The
            // ids come as one array: one text, planned once per connection.
            Placeholders::Numbered => format!(
                "SELECT p.id AS id, p.birth_date AS birth_date, p.sex AS sex, \
                 p.profile_version AS profile_version FROM unnest($1::bigint[]) AS probe(v) \
                 CROSS JOIN LATERAL (SELECT {columns} FROM persons \
                 WHERE id = probe.v AND merged_into IS NULL LIMIT 1) p"
            ),
        };
        let sql = json_rows::wrap(
            conn,
            &inner,
            &["id", "birth_date", "sex", "profile_version"],
            "",
        );
        let q = match style {
            Placeholders::Positional => ids
                .iter()
                .fold(sqlx::query_as(&sql).persistent(false), |q, id| q.bind(id)),
            Placeholders::Numbered => sqlx::query_as(&sql).bind(int_array(ids.iter().copied())),
        };
        let rows: Vec<(i64, String, String, i64)> = json_rows::fetch(conn, q).await?;
        let mut missing: HashMap<i64, Profile> = HashMap::new();
        let mut versions: HashMap<i64, i64> = HashMap::new();
        {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            for (id, birth_date, sex, version) in rows {
                // Id, date of birth and sex prepared as `Prepared::from_profile` does.
                let bare = Profile {
                    person_id: id,
                    birth_date: birth_date.parse().ok(),
                    sex: sex.chars().next(),
                    ..Default::default()
                };
                let head = Prepared::from_profile(&bare);
                match entries.get_mut(&id) {
                    // Kept while its version, date of birth and sex are those just read.
                    Some(e)
                        if e.version == version
                            && e.prepared.birth_date == head.birth_date
                            && e.prepared.sex == head.sex =>
                    {
                        e.epoch = epoch;
                        out.insert(id, e.prepared.clone());
                    }
                    _ => {
                        missing.insert(id, bare);
                        versions.insert(id, version);
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
        let prepared: Vec<(Profile, i64)> = missing
            .into_values()
            .map(|p| {
                let version = versions.get(&p.person_id).copied().unwrap_or_default();
                (p, version)
            })
            .collect();
        for (id, profile) in self.keep(prepared, epoch) {
            out.insert(id, profile);
        }
        Ok(())
    }

    /// Keeps the profiles of persons a committed group just created, as the store holds
    /// them (profile version 0), so that later groups need not read them back. Only
    /// committed persons: an id of a rolled-back insert may be given again.
    /// `epoch`: the trust epoch they were written in (0: none).
    pub(crate) fn remember(&self, written: Vec<Profile>, epoch: u64) {
        self.keep(written.into_iter().map(|p| (p, 0)).collect(), epoch);
    }

    /// Prepares and keeps profiles with their versions; answers them by id.
    fn keep(&self, profiles: Vec<(Profile, i64)>, epoch: u64) -> Vec<(i64, Arc<Prepared>)> {
        let prepared: Vec<(i64, i64, Arc<Prepared>)> = profiles
            .into_iter()
            .map(|(p, version)| (p.person_id, version, Arc::new(Prepared::from_profile(&p))))
            .collect();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() + prepared.len() > MAX_ENTRIES {
            entries.clear();
        }
        prepared
            .into_iter()
            .map(|(id, version, prepared)| {
                entries.insert(
                    id,
                    Entry {
                        version,
                        prepared: prepared.clone(),
                        epoch,
                    },
                );
                (id, prepared)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use imms_core::CodeTables;
    use imms_db::Database;

    use super::*;
    use crate::ack::AckCode;
    use crate::ingest::{check, Authority};
    use crate::problem::Problem;
    use crate::store::{Store, Stored};
    use crate::vxu::Vxu;

    fn make_ack(_: &Vxu, problems: &[Problem]) -> (AckCode, String) {
        (AckCode::for_problems(problems), String::new())
    }

    imms_db::conformance_test!(
        profiles_kept_for_written_persons_are_what_the_store_reads_back,
        |db: Database| async move {
            // A name sent twice, an alias and a maiden name, an address sent twice, accents.
            let message = "MSH|^~\\&|EHR|CLINIC-1|IMMS|IMMS|20240115083000||VXU^V04^VXU_V04|K-1|P|2.5.1\r\
                PID|1||M-1^^^CLINIC-1^MR||Nowák^Jan^Piotr^JR^^^L~NOWAK^JAN^PIOTR^JR^^^L~Nowák^Jan^Piotr^JR^^^L~Nowak^Janek^^^^^A~Kowalska^Jan^^^^^M||19700101|M|||12 Elm St^Apt 4^Flint^MI^48502-1234^USA^H~12 ELM ST^^Flint^MI^48502^USA^M~9 Oak Ave^^Lansing^MI^48933^USA^H\r";
            let codes = CodeTables::embedded();
            let vxu = check(&codes, message, Authority::Operator).expect("readable");
            let store = Store::new(db.clone());
            let now = Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap();
            let stored = store.ingest_batch(&[&vxu], now, &make_ack).await.unwrap();
            let Ok(Stored::Applied { person_id, .. }) = stored[0] else {
                panic!("stored: {stored:?}");
            };
            let kept = {
                let entries = store.profiles.entries.lock().unwrap();
                let e = entries.get(&person_id).expect("kept once committed");
                (e.version, e.prepared.clone())
            };
            let mut conn = db.pool().acquire().await.unwrap();
            let mut read = HashMap::new();
            match_keys::read_profiles(&mut conn, &[person_id], false, &mut read)
                .await
                .unwrap();
            let profile = &read[&person_id];
            assert_eq!(kept.0, 0, "a new person's profile version");
            assert_eq!(*kept.1, Prepared::from_profile(profile));
            // And the next group gets the kept profile, not a new read.
            let again = store
                .profiles
                .read(&mut conn, &[person_id], 0)
                .await
                .unwrap();
            assert!(Arc::ptr_eq(&again[&person_id], &kept.1));
        }
    );
}
