//! Group commit with set-based writes: a group of messages stored in one transaction with a
//! few statements for the whole group instead of a dozen or more per message.
//!
//! 1. [`Known::read`] reads what the group needs from the store in one go (earlier answers,
//!    stored identifiers and order numbers, the matching engine's candidates).
//! 2. Each message, in order, is decided in memory when it creates a new person that the
//!    matching engine cannot link to anyone (the bulk of an import): its rows are planned as
//!    the one-message path would write them, and the persons created earlier in the same
//!    group are candidates too. Anything else (a known identifier, an update or delete of a
//!    stored dose, a certain match, a message that depends on another of the group) goes
//!    through the one-message path, after the rows planned so far are written, so it sees
//!    them. A later message that would find what that path wrote among its candidates goes
//!    the same way; one that only shares a name with it stays in the group, with that
//!    name's count read again (names weigh by how common they are).
//! 3. Planned rows are written with one multi-row INSERT per table; once committed, the
//!    new persons' profiles are kept for later groups (`ProfileCache::remember`).
//!
//! The outcome is what storing the messages one by one, in order, would give: the
//! conformance suite checks that both ways leave the same rows.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use imms_db::{Database, Engine};
use imms_match::{decide, keys, score, Decision, Prepared, Profile, TermFrequencies};
use sqlx::{Any, Transaction};

use super::group_plan::{new_person, written_profile, NewPerson};
use super::group_reads::{IdentifierKey, Known};
use super::group_write::{stored, write_new_persons};
use super::match_keys::{profile_of, CommonNames, MAX_CANDIDATES, TF_CAP};
use super::profile_cache::ProfileCache;
use super::{apply, now_text, GroupResult, MakeAck, StoreError, Stored};
use crate::problem::Problem;
use crate::vxu::Vxu;

/// The profiles of the persons a group wrote (new persons: profile version 0).
pub(super) type Written = Vec<Profile>;

/// Most possible duplicates queued for one new person (as `link::find`).
const MAX_LOOK_ALIKES: usize = 10;

/// Groups of at least this many messages plan their statements again on PostgreSQL.
const REPLAN_GROUP: usize = 64;

pub async fn ingest_group(
    db: &Database,
    profiles: &ProfileCache,
    common_names: &CommonNames,
    vxus: &[&Vxu],
    now: DateTime<Utc>,
    make_ack: &MakeAck<'_>,
) -> GroupResult {
    let mut tx = db.pool().begin().await?;
    if db.engine() == Engine::Postgres && vxus.len() >= REPLAN_GROUP {
        // A connection keeps the plans of its foreign-key checks, made when it first
        // checked: against a table that was empty then (a new registry, a first import),
        // a check is a scan of the whole table, and stays one as an import grows the
        // table by thousands of rows per group. Planning again once per large group
        // follows the table. Live traffic's small groups grow it slowly enough for
        // autovacuum's ANALYZE, which makes every connection plan again; planning them
        // again at every group cost HTTP about a tenth of its rate.
        sqlx::query("DISCARD PLANS").execute(&mut *tx).await?;
    }
    match store_group(
        &mut tx,
        db.engine(),
        profiles,
        common_names,
        vxus,
        now,
        make_ack,
    )
    .await
    {
        Ok((results, written)) => {
            tx.commit().await?;
            profiles.remember(written, 0);
            Ok(results.into_iter().map(Ok).collect())
        }
        Err(e) => {
            tx.rollback().await?;
            Err(e)
        }
    }
}

/// A person created by this group.
pub(super) struct InGroup {
    /// Known once written.
    pub id: Option<i64>,
    prepared: Prepared,
    /// Its blocking and name keys, until its rows are planned (they are written as is).
    keys: Vec<String>,
}

/// What the group has done so far, beyond what [`Known`] read before it began.
#[derive(Default)]
pub(super) struct GroupState {
    pub control_ids: HashSet<(String, String)>,
    pub identifiers: HashSet<IdentifierKey>,
    pub orders: HashSet<(String, String)>,
    pub persons: Vec<InGroup>,
    /// Key → persons of this group holding it.
    pub key_index: HashMap<String, Vec<usize>>,
    /// Keys and persons written by the one-message path within this group: a later message
    /// that would find them as candidates is stored by that path too.
    touched_keys: HashSet<String>,
    /// Name counts read again after the one-message path wrote a person holding the name,
    /// with how many of this group's persons held it then (counted in the store since).
    recounted: HashMap<String, (i64, usize)>,
    touched_persons: HashSet<i64>,
    pub max_person_id: i64,
    /// Profiles of the persons written, for the profile cache once the group is committed.
    written: Written,
}

pub(super) enum Route {
    Duplicate(String, String),
    /// A new person; look-alikes as in [`NewPerson::look_alikes`].
    New(Vec<i64>),
    OneByOne,
}

impl GroupState {
    /// A group beginning after the persons up to `max_person_id`.
    pub fn after(max_person_id: i64) -> GroupState {
        GroupState {
            max_person_id,
            ..Default::default()
        }
    }

    pub fn remember(&mut self, vxu: &Vxu) {
        let h = &vxu.header;
        self.control_ids
            .insert((h.facility_id.clone(), h.control_id.clone()));
        if let Some(p) = &vxu.person {
            for id in &p.identifiers {
                self.identifiers.insert((
                    id.facility_id.clone(),
                    id.id_type.clone(),
                    id.value.clone(),
                ));
            }
        }
        for o in vxu
            .doses
            .iter()
            .filter_map(|d| d.filler_order_number.as_ref())
        {
            self.orders.insert((h.facility_id.clone(), o.clone()));
        }
    }

    pub fn route(&self, known: &Known, index: usize, vxu: &Vxu) -> Route {
        let h = &vxu.header;
        let message_key = (h.facility_id.clone(), h.control_id.clone());
        if let Some((ack, code)) = known.previous.get(&message_key) {
            return Route::Duplicate(ack.clone(), code.clone());
        }
        let Some(person) = &vxu.person else {
            return Route::OneByOne;
        };
        if self.control_ids.contains(&message_key) {
            return Route::OneByOne;
        }
        let known_identifier = person.identifiers.iter().any(|id| {
            let key = (id.facility_id.clone(), id.id_type.clone(), id.value.clone());
            known.identifiers.contains(&key) || self.identifiers.contains(&key)
        });
        if known_identifier {
            return Route::OneByOne;
        }
        let mut orders = HashSet::new();
        for o in vxu
            .doses
            .iter()
            .filter_map(|d| d.filler_order_number.as_ref())
        {
            let key = (h.facility_id.clone(), o.clone());
            if !orders.insert(o) || known.orders.contains(&key) || self.orders.contains(&key) {
                return Route::OneByOne;
            }
        }
        let Some((query, stored_candidates)) = known.queries.get(&index) else {
            // The matching engine cannot look for this person: a new person, alone.
            return Route::New(Vec::new());
        };
        if query.keys.iter().any(|k| self.touched_keys.contains(k))
            || stored_candidates
                .iter()
                .any(|(id, _)| self.touched_persons.contains(id))
        {
            return Route::OneByOne;
        }
        // This group's persons sharing keys with the query.
        let mut group_hits: HashMap<usize, i64> = HashMap::new();
        for k in &query.keys {
            for &slot in self.key_index.get(k).into_iter().flatten() {
                *group_hits.entry(slot).or_default() += 1;
            }
        }
        if group_hits.keys().any(|&slot| {
            self.persons[slot]
                .id
                .is_some_and(|id| self.touched_persons.contains(&id))
        }) {
            return Route::OneByOne;
        }
        // Most shared keys first, then the older person, as `match_keys::candidate_ids`;
        // this group's persons are newer than every stored one.
        let mut ranked: Vec<(i64, i64, Option<usize>)> = stored_candidates
            .iter()
            .map(|&(id, hits)| (hits, id, None))
            .collect();
        ranked.extend(
            group_hits
                .iter()
                .map(|(&slot, &hits)| (hits, i64::MAX / 2 + slot as i64, Some(slot))),
        );
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.truncate(MAX_CANDIDATES);
        if ranked.is_empty() {
            return Route::New(Vec::new());
        }
        ranked.sort_by_key(|r| r.1);
        // Group persons are prepared under their provisional ids (see `add_person`).
        let candidates: Vec<&Prepared> = ranked
            .iter()
            .filter_map(|&(_, id, slot)| match slot {
                None => known.profiles.get(&id).map(|p| &**p),
                Some(slot) => Some(&self.persons[slot].prepared),
            })
            .collect();
        let unwritten = self.persons.iter().filter(|p| p.id.is_none()).count() as i64;
        let tf = TermFrequencies {
            total: (known.max_person_id.max(self.max_person_id) + unwritten) as f64,
            counts: query
                .tf_keys
                .iter()
                .map(|k| (k.clone(), self.name_count(known, k)))
                .collect(),
        };
        let settings = &known.settings;
        let scored = score::score_all(&query.prepared, &candidates, &settings.params, &tf);
        match decide(&scored, &settings.thresholds) {
            // A certain match may link: the one-message path decides, with every check.
            Decision::Unique { .. } => Route::OneByOne,
            _ => Route::New(
                scored
                    .iter()
                    .filter(|s| s.score >= settings.thresholds.review_weight)
                    .take(MAX_LOOK_ALIKES)
                    .map(|s| s.person_id)
                    .collect(),
            ),
        }
    }

    /// A new person planned by the group.
    pub fn add_person(&mut self, vxu: &Vxu) -> usize {
        let slot = self.persons.len();
        if let Some(person) = &vxu.person {
            let prepared = Prepared::from_profile(&profile_of(provisional_id(slot), person));
            let keys = keys::person_keys(&prepared);
            for k in &keys {
                self.key_index.entry(k.clone()).or_default().push(slot);
            }
            self.persons.push(InGroup {
                id: None,
                prepared,
                keys,
            });
        }
        slot
    }

    /// Notes what the one-message path wrote; answers the name keys whose counts it may
    /// have changed (to be read again before the next message is routed).
    fn touched(&mut self, vxu: &Vxu, stored: &Stored) -> Vec<String> {
        let (Some(person), Stored::Applied { person_id, .. }) = (&vxu.person, stored) else {
            return Vec::new();
        };
        let prepared = Prepared::from_profile(&profile_of(*person_id, person));
        self.touched_keys.extend(keys::person_keys(&prepared));
        self.touched_persons.insert(*person_id);
        self.max_person_id = self.max_person_id.max(*person_id);
        crate::matching::tf_keys(&prepared)
    }

    /// How many persons hold this name key, as the store would count it now: the count
    /// read (when the group began, or again after the one-message path wrote) plus this
    /// group's persons planned since; capped as `CommonNames` caps it.
    fn name_count(&self, known: &Known, key: &str) -> i64 {
        let here = self.key_index.get(key).map_or(0, Vec::len);
        let count = match self.recounted.get(key) {
            Some(&(read, here_then)) => read + (here - here_then) as i64,
            None => known.name_counts.get(key).copied().unwrap_or(0) + here as i64,
        };
        count.min(TF_CAP)
    }

    /// Takes name counts just read from the store, which count every person of this group
    /// written so far.
    fn recount(&mut self, counts: HashMap<String, i64>) {
        for (key, count) in counts {
            let here = self.key_index.get(&key).map_or(0, Vec::len);
            self.recounted.insert(key, (count, here));
        }
    }

    /// The stored id of a look-alike: itself, or the id its group slot got.
    fn resolve(&self, id: i64) -> Option<i64> {
        if id > 0 {
            return Some(id);
        }
        self.persons
            .get(usize::try_from(-id - 1).ok()?)
            .and_then(|p| p.id)
    }
}

/// The id a person of this group goes by until written.
fn provisional_id(slot: usize) -> i64 {
    -(slot as i64) - 1
}

async fn store_group(
    tx: &mut Transaction<'_, Any>,
    engine: Engine,
    profiles: &ProfileCache,
    common_names: &CommonNames,
    vxus: &[&Vxu],
    now: DateTime<Utc>,
    make_ack: &MakeAck<'_>,
) -> Result<(Vec<Stored>, Written), StoreError> {
    let known = Known::read(tx, engine, profiles, common_names, vxus).await?;
    let mut routed = route_group(
        tx,
        engine,
        common_names,
        vxus,
        Start::new(known),
        now,
        make_ack,
    )
    .await?;
    let now_text = now_text(now);
    routed.write_rest(tx, &now_text).await?;
    routed.finish()
}

/// Where routing a group begins: nothing routed yet, or the first messages routed ahead
/// (see `pipeline`), in order.
pub(super) struct Start {
    pub known: Known,
    pub state: GroupState,
    pub routes: Vec<Route>,
}

impl Start {
    pub fn new(known: Known) -> Start {
        let state = GroupState::after(known.max_person_id);
        Start {
            known,
            state,
            routes: Vec::new(),
        }
    }
}

/// A group routed to its end: what the one-message path stored is written, the new
/// persons planned after it are not yet.
pub(super) struct Routed<'a> {
    pub state: GroupState,
    pub results: Vec<Option<Stored>>,
    pub planned: Vec<(usize, NewPerson<'a>)>,
    /// Some message went through the one-message path.
    pub one_by_one: bool,
}

impl Routed<'_> {
    /// Writes the planned persons.
    pub async fn write_rest(
        &mut self,
        tx: &mut Transaction<'_, Any>,
        now: &str,
    ) -> Result<(), StoreError> {
        write_planned(
            tx,
            &mut self.planned,
            &mut self.state,
            &mut self.results,
            now,
        )
        .await
    }

    /// Every message's result, and the profiles of the persons written.
    pub fn finish(self) -> Result<(Vec<Stored>, Written), StoreError> {
        let results = self
            .results
            .into_iter()
            .map(|r| {
                r.ok_or_else(|| {
                    StoreError::Conflict("a message of the group was not stored".into())
                })
            })
            .collect::<Result<_, _>>()?;
        Ok((results, self.state.written))
    }
}

/// Routes every message of the group: the routes given first (planned here), then the rest,
/// storing through the one-message path what must go that way as it comes.
pub(super) async fn route_group<'a>(
    tx: &mut Transaction<'_, Any>,
    engine: Engine,
    common_names: &CommonNames,
    vxus: &[&'a Vxu],
    start: Start,
    now: DateTime<Utc>,
    make_ack: &MakeAck<'_>,
) -> Result<Routed<'a>, StoreError> {
    let Start {
        known,
        mut state,
        routes,
    } = start;
    let now_text = now_text(now);
    let routed_ahead = routes.len();
    let mut results: Vec<Option<Stored>> = vec![None; vxus.len()];
    let mut planned: Vec<(usize, NewPerson<'a>)> = Vec::new();
    let mut one_by_one = false;
    let mut next_slot = 0;
    let mut routes = routes.into_iter();
    for (index, vxu) in vxus.iter().copied().enumerate() {
        let ack = |problems: &[Problem]| make_ack(vxu, problems);
        // A message routed ahead is already in the group state.
        let ahead = index < routed_ahead;
        let route = match routes.next() {
            Some(route) => route,
            None => state.route(&known, index, vxu),
        };
        match route {
            Route::Duplicate(ack, code) => {
                results[index] = Some(Stored::Duplicate { ack, code });
            }
            Route::New(look_alikes) => {
                let slot = if ahead {
                    next_slot
                } else {
                    state.add_person(vxu)
                };
                next_slot = slot + 1;
                if let Some(person) = &vxu.person {
                    let keys = state
                        .persons
                        .get_mut(slot)
                        .map(|p| std::mem::take(&mut p.keys))
                        .unwrap_or_default();
                    planned.push((
                        index,
                        new_person(vxu, person, look_alikes, keys, slot, &ack),
                    ));
                }
                if !ahead {
                    state.remember(vxu);
                }
            }
            Route::OneByOne => {
                one_by_one = true;
                write_planned(tx, &mut planned, &mut state, &mut results, &now_text).await?;
                let stored = apply::apply_message(tx, engine, vxu, now, &ack).await?;
                let names = state.touched(vxu, &stored);
                if !names.is_empty() {
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    state.recount(common_names.counts(tx, &names, false).await?);
                }
                state.remember(vxu);
                results[index] = Some(stored);
            }
        }
    }
    Ok(Routed {
        state,
        results,
        planned,
        one_by_one,
    })
}

/// Writes the new persons planned so far and records their answers.
async fn write_planned(
    tx: &mut Transaction<'_, Any>,
    planned: &mut Vec<(usize, NewPerson<'_>)>,
    state: &mut GroupState,
    results: &mut [Option<Stored>],
    now: &str,
) -> Result<(), StoreError> {
    if planned.is_empty() {
        return Ok(());
    }
    let (indexes, plans): (Vec<usize>, Vec<NewPerson<'_>>) =
        std::mem::take(planned).into_iter().unzip();
    let first_slot = plans[0].slot;
    let resolve = |id: i64, written: &[i64]| -> Option<i64> {
        if id > 0 {
            return Some(id);
        }
        let slot = usize::try_from(-id - 1).ok()?;
        match slot.checked_sub(first_slot) {
            Some(i) if i < written.len() => Some(written[i]),
            _ => state.resolve(id),
        }
    };
    let ids = write_new_persons(tx, &plans, now, &resolve).await?;
    for ((index, plan), id) in indexes.into_iter().zip(&plans).zip(ids) {
        results[index] = Some(stored(plan, id));
        state.written.push(written_profile(id, plan));
        if let Some(p) = state.persons.get_mut(plan.slot) {
            p.id = Some(id);
        }
        state.max_person_id = state.max_person_id.max(id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_counts_follow_the_group_and_the_one_message_path() {
        let known = Known {
            name_counts: HashMap::from([("FN|NOWAK".to_string(), 5), ("GN|JAN".to_string(), 1)]),
            ..Default::default()
        };
        let mut state = GroupState::default();
        // Two persons of the group named Nowak, planned and not yet in the store.
        state.key_index.insert("FN|NOWAK".into(), vec![0, 1]);
        assert_eq!(state.name_count(&known, "FN|NOWAK"), 7);
        // The one-message path wrote after them (so the store now holds them) and added
        // another Nowak: the count read again is 8, and nothing is counted twice.
        state.recount(HashMap::from([("FN|NOWAK".to_string(), 8)]));
        assert_eq!(state.name_count(&known, "FN|NOWAK"), 8);
        // One more Nowak planned by the group.
        state.key_index.get_mut("FN|NOWAK").unwrap().push(2);
        assert_eq!(state.name_count(&known, "FN|NOWAK"), 9);
        // A name not read again keeps the count the group began with, plus its own.
        state.key_index.insert("GN|JAN".into(), vec![2]);
        assert_eq!(state.name_count(&known, "GN|JAN"), 2);
        assert_eq!(state.name_count(&known, "GN|ANNA"), 0);
        // Capped as the store's counts are.
        state.recount(HashMap::from([("GN|JAN".to_string(), TF_CAP)]));
        state.key_index.get_mut("GN|JAN").unwrap().push(3);
        assert_eq!(state.name_count(&known, "GN|JAN"), TF_CAP);
    }
}
