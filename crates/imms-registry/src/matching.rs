//! The one matching engine of the registry ([`imms_match`] over the store's blocking keys),
//! used by ingest linking, QBP Z34, the portal and the console.
//!
//! ```text
//! let matcher = Matcher::new(store.clone());     // cheap to clone
//! match matcher.find(&query).await? {
//!     Decision::Unique { person_id, .. } => ...,   // the one right person
//!     Decision::NoUniqueMatch { reason } => ...,   // reason: logs and metrics only
//! }
//! matcher.candidates(&query, 20).await?           // staff look-up: scored list
//! ```
//!
//! A query that [`Query::check`] refuses (surname alone, 10,000-character names, control
//! characters, an implausible date) is `NoUniqueMatch { InsufficientQuery }`, never an error
//! and never a match.

use std::sync::Arc;

use imms_match::{
    decide, keys, score, Candidate, Decision, NoMatchReason, Prepared, Query, Scored,
    TermFrequencies,
};
use sqlx::AnyConnection;
use tokio::sync::OnceCell;

use crate::store::match_keys::{self, Settings};
use crate::store::{Store, StoreError};

/// Finds persons; see the module documentation.
#[derive(Clone)]
pub struct Matcher {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    settings: OnceCell<Settings>,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher").finish_non_exhaustive()
    }
}

impl Matcher {
    /// A matcher with the settings stored by `imms match train` (read on first use), or
    /// the defaults.
    pub fn new(store: Store) -> Matcher {
        Matcher {
            inner: Arc::new(Inner {
                store,
                settings: OnceCell::new(),
            }),
        }
    }

    /// A matcher with these settings instead of the stored ones (evaluation, tests).
    pub fn with_settings(store: Store, settings: Settings) -> Matcher {
        let m = Matcher::new(store);
        let _ = m.inner.settings.set(settings);
        m
    }

    pub async fn settings(&self) -> Result<&Settings, StoreError> {
        self.inner
            .settings
            .get_or_try_init(|| async {
                let mut conn = self.inner.store.database().pool().acquire().await?;
                match_keys::load_settings(&mut conn).await
            })
            .await
    }

    /// The one person this query means, or no unique match.
    pub async fn find(&self, query: &Query) -> Result<Decision, StoreError> {
        if query.check().is_err() {
            return Ok(Decision::NoUniqueMatch {
                reason: NoMatchReason::InsufficientQuery,
            });
        }
        let settings = self.settings().await?.clone();
        let scored = self.score(query, &settings).await?;
        Ok(decide(&scored, &settings.thresholds))
    }

    /// The best `limit` candidates with their scores and agreeing fields, for staff.
    pub async fn candidates(
        &self,
        query: &Query,
        limit: usize,
    ) -> Result<Vec<Candidate>, StoreError> {
        if query.check().is_err() {
            return Ok(Vec::new());
        }
        let settings = self.settings().await?.clone();
        let scored = self.score(query, &settings).await?;
        Ok(scored
            .iter()
            .take(limit)
            .map(|s| Candidate {
                person_id: s.person_id,
                score: s.score,
                agreeing_fields: s.agreeing_fields(),
            })
            .collect())
    }

    async fn score(&self, query: &Query, settings: &Settings) -> Result<Vec<Scored>, StoreError> {
        let mut conn = self.inner.store.database().pool().acquire().await?;
        let prepared = Prepared::from_query(query);
        let ids = match_keys::candidate_ids(
            &mut conn,
            &keys::query_keys(&prepared),
            match_keys::MAX_CANDIDATES,
        )
        .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let names = tf_keys(&prepared);
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let common_names = self.inner.store.common_names();
        let tf = TermFrequencies {
            total: match_keys::person_total(&mut conn).await? as f64,
            counts: common_names.counts(&mut conn, &names, true).await?,
        };
        let profiles = match_keys::profiles(&mut conn, &ids).await?;
        let candidates: Vec<Prepared> = profiles.iter().map(Prepared::from_profile).collect();
        Ok(score::score_all(
            &prepared,
            &candidates,
            &settings.params,
            &tf,
        ))
    }
}

/// The name-count keys of a query: its given names and surnames (as the matcher reads them);
/// look-ups and set-based groups count the same names.
pub(crate) fn tf_keys(q: &Prepared) -> Vec<String> {
    let mut out = Vec::new();
    for n in q.names.iter().chain(&q.former_families) {
        if !n.family.is_empty() {
            out.push(keys::family_tf_key(n));
        }
        if !n.given.is_empty() {
            out.push(keys::given_tf_key(n));
        }
    }
    out
}

/// Scores a query inside an open transaction (ingest linking, QBP), with name counts read
/// fresh. A query that [`Query::check`] refuses has no candidates.
pub(crate) async fn score_in(
    conn: &mut AnyConnection,
    query: &Query,
    settings: &Settings,
) -> Result<Vec<Scored>, StoreError> {
    if query.check().is_err() {
        return Ok(Vec::new());
    }
    let prepared = Prepared::from_query(query);
    let ids = match_keys::candidate_ids(
        conn,
        &keys::query_keys(&prepared),
        match_keys::MAX_CANDIDATES,
    )
    .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let names = tf_keys(&prepared);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let tf = TermFrequencies {
        total: match_keys::person_total(conn).await? as f64,
        counts: match_keys::name_counts(conn, &names, true).await?,
    };
    let profiles = match_keys::profiles(conn, &ids).await?;
    let candidates: Vec<Prepared> = profiles.iter().map(Prepared::from_profile).collect();
    Ok(score::score_all(
        &prepared,
        &candidates,
        &settings.params,
        &tf,
    ))
}

/// What `imms match train` found and stored.
#[derive(Debug, Clone)]
pub struct Training {
    pub settings: Settings,
    /// Persons sampled.
    pub persons: usize,
    /// Random pairs that gave u.
    pub random_pairs: usize,
    /// Blocked pairs that EM ran over.
    pub blocked_pairs: usize,
    /// Whether EM's m was kept (else the defaults stay: EM over a registry with almost no
    /// duplicates finds households, not persons, and that is refused).
    pub m_from_em: bool,
}

/// Estimates m and u from the registry's persons (u from random pairs of a sample, m by EM
/// over the blocked pairs of the sample, u fixed, as Splink does), keeps the stored
/// thresholds, and stores the result where [`Matcher::new`] reads it.
pub async fn train(
    store: &Store,
    sample: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Training, StoreError> {
    use imms_match::em;
    let mut conn = store.database().pool().acquire().await?;
    let current = match_keys::load_settings(&mut conn).await?;
    let max = match_keys::person_total(&mut conn).await?;
    // A spread of ids without a random source: a multiplicative stride, co-prime with max
    // in all but rare cases (then a few ids repeat, which is harmless).
    let n = sample.min(max.max(0) as usize);
    let stride: i64 = 2_654_435_761 % max.max(1);
    let ids: Vec<i64> = (0..n as i64)
        .map(|i| (i * stride.max(1)) % max.max(1) + 1)
        .collect();
    let mut people = Vec::new();
    for chunk in ids.chunks(500) {
        people.extend(match_keys::profiles(&mut conn, chunk).await?);
    }
    let prepared: Vec<Prepared> = people.iter().map(Prepared::from_profile).collect();
    let mut random_pairs = Vec::new();
    if prepared.len() > 1 {
        for k in 1..=10 {
            for i in 0..prepared.len() {
                let j = (i + k * 7919) % prepared.len();
                if i != j {
                    random_pairs.push(score::compare(&prepared[i], &prepared[j]));
                }
            }
        }
    }
    let defaults = imms_match::Params::default();
    let with_u = em::estimate_u(&random_pairs, &defaults);
    let mut blocked = Vec::new();
    for p in prepared.iter().take(5_000) {
        let others = match_keys::candidate_ids(&mut conn, &keys::query_keys(p), 20).await?;
        let others: Vec<i64> = others.into_iter().filter(|id| *id != p.person_id).collect();
        for o in match_keys::profiles(&mut conn, &others).await? {
            blocked.push(score::compare(p, &Prepared::from_profile(&o)));
        }
    }
    let trained = em::estimate_m(&blocked, &with_u, 50);
    // Agreement must be likelier among matches than disagreement, field by field.
    let sane = trained.is_valid()
        && trained
            .m
            .iter()
            .zip(&trained.u)
            .all(|(m, u)| m[0] > *m.last().unwrap_or(&1.0) && m[0] > u[0]);
    let params = if sane {
        trained
    } else {
        imms_match::Params {
            m: defaults.m.clone(),
            ..with_u
        }
    };
    let settings = Settings {
        params,
        thresholds: current.thresholds,
    };
    match_keys::save_settings(&mut conn, &settings, now).await?;
    Ok(Training {
        settings,
        persons: prepared.len(),
        random_pairs: random_pairs.len(),
        blocked_pairs: blocked.len(),
        m_from_em: sane,
    })
}
