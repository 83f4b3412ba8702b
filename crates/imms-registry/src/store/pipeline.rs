//! SQLite's writer, pipelined: while one group is written and committed, the next group is
//! read and routed on a second connection, so the matching engine's reads and scoring run
//! beside SQLite's writing instead of after it.
//!
//! The next group is read from a snapshot taken before the group being written commits, and
//! what that group adds (its new persons, with the ids SQLite will give them, their keys and
//! names) is laid over the snapshot: the view the next group would read once it commits.
//! Routing ahead stops at the first message that depends on more than that (a resend, a known
//! identifier or order number of the group before, or the one-message path); the rest of the
//! group is routed when it is written, as without the pipeline.
//!
//! The view is used only when it is exactly what the store holds when the next group
//! begins: no other connection committed since the group before began (SQLite's
//! `data_version` on the writer's own connection), the group before took no one-message
//! path, and its persons got the ids foreseen. Otherwise the next group is read again.
//! Under the same condition the routing ahead takes the profiles this writer wrote or
//! checked without checking them against the store again (`ProfileCache::new_epoch`).
//! `tests/group_commit.rs` checks that the rows and answers are those of storing one by one.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use imms_db::Engine;
use imms_match::{Prepared, Profile};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Connection};
use tokio::sync::oneshot;

use super::group::{route_group, GroupState, Route, Routed, Start};
use super::group_plan::written_profile;
use super::group_reads::{IdentifierKey, Known};
use super::match_keys::{MAX_CANDIDATES, TF_CAP};
use super::{now_text, GroupResult, MakeAck, Store, StoreError, Stored};
use crate::vxu::Vxu;

/// How long routing ahead waits for a connection of its own before it gives up (opening a
/// new SQLite connection takes a few milliseconds).
const CONNECTION_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

/// Messages routed between two yields to the writing beside it.
const ROUTE_SLICE: usize = 64;

/// Stores groups one after the other, each with the next one read and routed while it is
/// written (SQLite; on PostgreSQL, whose writers run in parallel, groups are stored as by
/// [`Store::ingest_batch`]).
pub struct GroupWriter {
    store: Store,
    /// The writer's own connection: its `data_version` tells whether anyone else committed.
    conn: Option<PoolConnection<Any>>,
    ahead: Option<Ahead>,
    /// The connection's `data_version` when the last group began and the profile cache's
    /// trust epoch then; `None` when that group changed stored persons or failed.
    trust: Option<(i64, u64)>,
}

/// A group routed ahead.
struct Ahead {
    /// Which messages (facility, control id), to check it is the group handed over next.
    messages: Vec<(String, String)>,
    known: Known,
    state: GroupState,
    routes: Vec<Route>,
    /// The writer connection's `data_version` when the group before began.
    data_version: i64,
}

/// What a group about to be written adds to the store, for routing the next one.
struct Pending {
    /// The new persons' profiles as the store will hold them (ids set once foreseen).
    profiles: Vec<Profile>,
    key_index: HashMap<String, Vec<usize>>,
    control_ids: HashSet<(String, String)>,
    identifiers: HashSet<IdentifierKey>,
    orders: HashSet<(String, String)>,
}

impl GroupWriter {
    pub(super) fn new(store: Store) -> GroupWriter {
        GroupWriter {
            store,
            conn: None,
            ahead: None,
            trust: None,
        }
    }

    /// Stores `group` in one transaction (see [`Store::ingest_batch`]), routing `next`
    /// meanwhile for the call that stores it. An outer `Err` means nothing of the group was
    /// stored.
    pub async fn store(
        &mut self,
        group: &[&Vxu],
        next: &[Arc<Vxu>],
        now: DateTime<Utc>,
        make_ack: &MakeAck<'_>,
    ) -> GroupResult {
        let db = self.store.db.clone();
        if db.engine() != Engine::Sqlite {
            return self.store.ingest_batch(group, now, make_ack).await;
        }
        let ahead = self.ahead.take().filter(|a| a.is_for(group));
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self.conn.insert(db.pool().acquire().await?),
        };
        let trust = &mut self.trust;
        match store_pipelined(conn, &self.store, trust, group, ahead, next, now, make_ack).await {
            Ok((results, ahead)) => {
                self.ahead = ahead;
                Ok(results.into_iter().map(Ok).collect())
            }
            Err(e) => {
                // The connection may be what failed: take a fresh one next time.
                self.conn = None;
                self.trust = None;
                Err(e)
            }
        }
    }
}

impl Ahead {
    fn is_for(&self, group: &[&Vxu]) -> bool {
        self.messages.len() == group.len()
            && self
                .messages
                .iter()
                .zip(group)
                .all(|((f, c), v)| *f == v.header.facility_id && *c == v.header.control_id)
    }
}

async fn data_version(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("PRAGMA data_version")
        .fetch_one(conn)
        .await?)
}

#[allow(clippy::too_many_arguments)]
async fn store_pipelined(
    conn: &mut AnyConnection,
    store: &Store,
    trust: &mut Option<(i64, u64)>,
    group: &[&Vxu],
    ahead: Option<Ahead>,
    next: &[Arc<Vxu>],
    now: DateTime<Utc>,
    make_ack: &MakeAck<'_>,
) -> Result<(Vec<Stored>, Option<Ahead>), StoreError> {
    let (profiles, common_names) = (&*store.profiles, &*store.common_names);
    let mut tx = conn.begin().await?;
    // The first read: the transaction's snapshot begins here.
    let version = data_version(&mut tx).await?;
    // Profiles kept stay exact while no other connection commits and this writer only
    // adds persons: the epoch goes on while both hold, from one group to the next.
    let epoch = match trust.take() {
        Some((v, epoch)) if v == version => epoch,
        _ => profiles.new_epoch(),
    };
    let start = match ahead.filter(|a| a.data_version == version) {
        Some(a) if a.routes.len() == group.len() => Start {
            known: a.known,
            state: a.state,
            routes: a.routes,
        },
        Some(a) => Start {
            // The rest of the group depends on more than the view laid over the snapshot:
            // read it again, here (nothing of this group is written yet).
            known: Known::read(&mut tx, Engine::Sqlite, profiles, common_names, group).await?,
            state: a.state,
            routes: a.routes,
        },
        None => {
            Start::new(Known::read(&mut tx, Engine::Sqlite, profiles, common_names, group).await?)
        }
    };
    let mut routed = route_group(
        &mut tx,
        Engine::Sqlite,
        common_names,
        group,
        start,
        now,
        make_ack,
    )
    .await?;
    let now_text = now_text(now);
    let pending = if next.is_empty() {
        None
    } else {
        Pending::of(&routed)
    };
    let only_added = !routed.one_by_one;
    let Some(pending) = pending else {
        routed.write_rest(&mut tx, &now_text).await?;
        tx.commit().await?;
        let (results, written) = routed.finish()?;
        profiles.remember(written, epoch);
        *trust = only_added.then_some((version, epoch));
        return Ok((results, None));
    };
    let (snapshot_taken, snapshot) = oneshot::channel();
    let write = async {
        routed.write_rest(&mut tx, &now_text).await?;
        // The next group's snapshot must not hold this group (or anything after it).
        let _ = snapshot.await;
        tx.commit().await?;
        Ok::<_, StoreError>(())
    };
    // On a task of its own, so that its reading and scoring run beside this writing.
    let read = tokio::spawn(read_ahead(
        store.clone(),
        next.to_vec(),
        pending,
        epoch,
        version,
        snapshot_taken,
    ));
    let written = write.await;
    let ahead = read.await.ok().flatten();
    written?;
    let (results, written) = routed.finish()?;
    let ids: Vec<i64> = written.iter().map(|p| p.person_id).collect();
    profiles.remember(written, epoch);
    *trust = only_added.then_some((version, epoch));
    // Used only if this group's persons got the ids the view foresaw.
    let ahead = ahead.filter(|(first_id, _)| {
        ids.iter()
            .enumerate()
            .all(|(i, id)| *id == first_id + i as i64)
    });
    Ok((results, ahead.map(|(_, a)| a)))
}

impl Pending {
    /// What the routed group will add, when routing the next group ahead can use it: only
    /// new persons, planned in the order of their slots (written together, so SQLite gives
    /// them consecutive ids).
    fn of(routed: &Routed<'_>) -> Option<Pending> {
        if routed.one_by_one {
            return None;
        }
        let in_order = routed
            .planned
            .iter()
            .enumerate()
            .all(|(i, (_, plan))| plan.slot == i);
        if !in_order || routed.planned.len() != routed.state.persons.len() {
            return None;
        }
        Some(Pending {
            profiles: routed
                .planned
                .iter()
                .map(|(_, plan)| written_profile(0, plan))
                .collect(),
            key_index: routed.state.key_index.clone(),
            control_ids: routed.state.control_ids.clone(),
            identifiers: routed.state.identifiers.clone(),
            orders: routed.state.orders.clone(),
        })
    }

    /// The message depends on the group before in more than its new persons.
    fn touches(&self, vxu: &Vxu) -> bool {
        let h = &vxu.header;
        if self
            .control_ids
            .contains(&(h.facility_id.clone(), h.control_id.clone()))
        {
            return true;
        }
        let identifier = vxu.person.as_ref().is_some_and(|p| {
            p.identifiers.iter().any(|id| {
                self.identifiers.contains(&(
                    id.facility_id.clone(),
                    id.id_type.clone(),
                    id.value.clone(),
                ))
            })
        });
        identifier
            || vxu
                .doses
                .iter()
                .filter_map(|d| d.filler_order_number.as_ref())
                .any(|o| self.orders.contains(&(h.facility_id.clone(), o.clone())))
    }

    /// Lays the group's persons, with the ids foreseen from `first_id` on, over what was
    /// read from a snapshot without them: candidates, their profiles, name counts and the
    /// number of persons, as reading after the group's commit would give them.
    fn lay_over(&self, known: &mut Known, first_id: i64) {
        if self.profiles.is_empty() {
            return;
        }
        let mut used: HashSet<usize> = HashSet::new();
        for (query, candidates) in known.queries.values_mut() {
            let mut hits: HashMap<usize, i64> = HashMap::new();
            for k in &query.keys {
                for &slot in self.key_index.get(k).into_iter().flatten() {
                    *hits.entry(slot).or_default() += 1;
                }
            }
            if hits.is_empty() {
                continue;
            }
            candidates.extend(
                hits.into_iter()
                    .map(|(slot, h)| (first_id + slot as i64, h)),
            );
            // As `group_reads::candidates` ranks them: most keys shared, then older.
            candidates.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            candidates.truncate(MAX_CANDIDATES);
            used.extend(
                candidates
                    .iter()
                    .filter(|(id, _)| *id >= first_id)
                    .map(|(id, _)| (id - first_id) as usize),
            );
        }
        for slot in used {
            let mut profile = self.profiles[slot].clone();
            profile.person_id = first_id + slot as i64;
            known.profiles.insert(
                profile.person_id,
                Arc::new(Prepared::from_profile(&profile)),
            );
        }
        let tf_keys: HashSet<&String> = known
            .queries
            .values()
            .flat_map(|(q, _)| &q.tf_keys)
            .collect();
        for key in tf_keys {
            let added = self.key_index.get(key).map_or(0, Vec::len) as i64;
            if added > 0 {
                let count = known.name_counts.entry(key.clone()).or_insert(0);
                *count = (*count + added).min(TF_CAP);
            }
        }
        known.max_person_id = known
            .max_person_id
            .max(first_id - 1 + self.profiles.len() as i64);
    }
}

/// Reads the next group from a snapshot taken before the group being written commits
/// (told through `snapshot_taken`), lays that group's persons over it and routes the
/// messages it can. `data_version`: the writer connection's when the group being written
/// began. Answers the first id foreseen for the group being written, and the group routed
/// ahead; `None` when anything failed (the group is then read when written).
async fn read_ahead(
    store: Store,
    next: Vec<Arc<Vxu>>,
    pending: Pending,
    epoch: u64,
    data_version: i64,
    snapshot_taken: oneshot::Sender<()>,
) -> Option<(i64, Ahead)> {
    let db = &store.db;
    let next: Vec<&Vxu> = next.iter().map(|v| &**v).collect();
    // Only a connection to be had at once: the writer must not wait on a busy pool.
    let mut conn = tokio::time::timeout(CONNECTION_WAIT, db.pool().acquire())
        .await
        .ok()?
        .ok()?;
    let mut tx = conn.begin().await.ok()?;
    let max: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM persons")
        .fetch_one(&mut *tx)
        .await
        .ok()?;
    let _ = snapshot_taken.send(());
    // The kept profiles of this epoch are taken unchecked: were that wrong, another
    // connection committed or this writer changed a person, and the group is read again.
    let known = Known::read_trusting(
        &mut tx,
        Engine::Sqlite,
        &store.profiles,
        &store.common_names,
        &next,
        epoch,
    )
    .await;
    let _ = tx.rollback().await;
    let mut known = known.ok()?;
    let first_id = max.unwrap_or(0) + 1;
    pending.lay_over(&mut known, first_id);
    let mut state = GroupState::after(known.max_person_id);
    let mut routes = Vec::new();
    for (index, vxu) in next.iter().copied().enumerate() {
        if index % ROUTE_SLICE == ROUTE_SLICE - 1 {
            // Let the writing beside this go on between statements.
            tokio::task::yield_now().await;
        }
        if pending.touches(vxu) {
            break;
        }
        let route = state.route(&known, index, vxu);
        match &route {
            Route::OneByOne => break,
            Route::Duplicate(..) => {}
            Route::New(_) => {
                state.add_person(vxu);
                state.remember(vxu);
            }
        }
        routes.push(route);
    }
    let messages = next
        .iter()
        .map(|v| (v.header.facility_id.clone(), v.header.control_id.clone()))
        .collect();
    Some((
        first_id,
        Ahead {
            messages,
            known,
            state,
            routes,
            data_version,
        },
    ))
}
