//! The evaluation of `imms match eval` in memory, for working on the engine: the same
//! generator, blocking keys, candidate rule (the persons sharing the most keys, at most
//! 100, ties by load order), term frequencies, scoring and decision as the registry's
//! `Matcher`, without a store, so a 100,000-person set takes seconds instead of minutes.
//! It also says why each true person was missed: not among the candidates (blocking), or
//! refused by the decision (and why). `imms match eval` stays the figure of record.
//!
//!     cargo run --release -p imms-match --example eval_mem -- --count 100000 \
//!         --queries 5000 --seed 1 --noise 1 [--uncorroborated-weight 36] [--misses FILE]
use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use chrono::NaiveDate;
use imms_match::synth::{Generator, Noise, Record};
use imms_match::{
    decide, keys, score, Decision, Params, Prepared, Profile, ProfileName, Query, QueryAddress,
    TermFrequencies, Thresholds,
};

/// As `match_keys::MAX_CANDIDATES` and `TF_CAP` in the registry's store.
const MAX_CANDIDATES: usize = 100;
const TF_CAP: usize = 5000;

fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

fn addresses(r: &Record) -> Vec<QueryAddress> {
    if r.street.is_empty() && r.city.is_empty() && r.postal_code.is_empty() {
        return Vec::new();
    }
    vec![QueryAddress {
        street: r.street.clone(),
        city: r.city.clone(),
        state: r.state.clone(),
        postal_code: r.postal_code.clone(),
    }]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: &str| -> String {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
            .unwrap_or_else(|| default.to_string())
    };
    let number = |name: &str, default: &str| -> f64 {
        arg(name, default)
            .parse()
            .unwrap_or_else(|_| panic!("{name} takes a number"))
    };
    let count = number("--count", "100000") as usize;
    let queries = number("--queries", "5000") as usize;
    let seed = number("--seed", "1") as u64;
    let noise = number("--noise", "1");
    let defaults = Thresholds::default();
    let thresholds = Thresholds {
        match_weight: number("--match-weight", &defaults.match_weight.to_string()),
        uncorroborated_weight: number(
            "--uncorroborated-weight",
            &defaults.uncorroborated_weight.to_string(),
        ),
        ..defaults
    };
    let mut misses = match arg("--misses", "").as_str() {
        "" => None,
        path => Some(std::fs::File::create(path).expect("--misses file")),
    };

    let mut generator = Generator::new(seed, count, queries, Noise::scaled(noise));
    let mut persons: Vec<Prepared> = Vec::with_capacity(count);
    let mut ids: Vec<String> = Vec::with_capacity(count);
    let mut index: HashMap<String, Vec<u32>> = HashMap::new();
    while let Some(r) = generator.next_person() {
        let id = persons.len() as i64 + 1;
        let p = Prepared::from_profile(&Profile {
            person_id: id,
            birth_date: date(&r.birth_date),
            sex: r.sex.chars().next(),
            names: vec![ProfileName {
                given: r.given.clone(),
                middle: r.middle.clone(),
                family: r.family.clone(),
                suffix: r.suffix.clone(),
            }],
            addresses: addresses(&r),
        });
        for k in keys::person_keys(&p) {
            index.entry(k).or_default().push(id as u32);
        }
        persons.push(p);
        ids.push(r.id);
    }
    let row_of: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, e)| (e.as_str(), i))
        .collect();
    let params = Params::default();
    // Time spent in scoring alone (compare + weigh + sort), the part ingest repeats for
    // every message; the in-memory look-ups around it say nothing about the store's.
    let (mut scoring, mut scored_pairs) = (std::time::Duration::ZERO, 0usize);
    let (mut findable, mut correct, mut wrong) = (0usize, 0usize, 0usize);
    let mut why: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_kind: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (q, truth) in generator.queries() {
        let Some(birth_date) = date(&q.birth_date) else {
            continue;
        };
        let query = Query {
            given: q.given.clone(),
            middle: q.middle.clone(),
            family: q.family.clone(),
            suffix: q.suffix.clone(),
            birth_date,
            sex: q.sex.chars().next(),
            addresses: addresses(&q),
            former_family_names: Vec::new(),
        };
        let mut candidates: Vec<i64> = Vec::new();
        let mut scored = Vec::new();
        if query.check().is_ok() {
            let prepared = Prepared::from_query(&query);
            let mut hits: HashMap<u32, i64> = HashMap::new();
            for k in keys::query_keys(&prepared) {
                for id in index.get(&k).into_iter().flatten() {
                    *hits.entry(*id).or_default() += 1;
                }
            }
            let mut hits: Vec<(u32, i64)> = hits.into_iter().collect();
            hits.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            candidates = hits
                .iter()
                .take(MAX_CANDIDATES)
                .map(|h| h.0 as i64)
                .collect();
            let mut tf = TermFrequencies {
                total: persons.len() as f64,
                counts: HashMap::new(),
            };
            for n in &prepared.names {
                for key in [keys::family_tf_key(n), keys::given_tf_key(n)] {
                    let c = index.get(&key).map_or(0, |v| v.len().min(TF_CAP));
                    tf.counts.insert(key, c as i64);
                }
            }
            let mut sorted = candidates.clone();
            sorted.sort_unstable();
            let profiles: Vec<Prepared> = sorted
                .iter()
                .map(|id| persons[*id as usize - 1].clone())
                .collect();
            let started = std::time::Instant::now();
            scored = score::score_all(&prepared, &profiles, &params, &tf);
            scoring += started.elapsed();
            scored_pairs += profiles.len();
        }
        let decision = if scored.is_empty() && query.check().is_err() {
            Decision::NoUniqueMatch {
                reason: imms_match::NoMatchReason::InsufficientQuery,
            }
        } else {
            decide(&scored, &thresholds)
        };
        let answer = match decision {
            Decision::Unique { person_id, .. } => Some(ids[person_id as usize - 1].as_str()),
            Decision::NoUniqueMatch { .. } => None,
        };
        let right = answer.is_some() && answer == truth.person_id.as_deref();
        findable += usize::from(truth.person_id.is_some());
        correct += usize::from(right);
        if answer.is_some() && !right {
            wrong += 1;
            println!(
                "wrong answer to {} ({}), score {:.1}",
                q.id,
                truth.kind,
                scored.first().map_or(0.0, |s| s.score)
            );
        }
        if truth.person_id.is_some() {
            for k in truth.kind.split('+') {
                let e = by_kind.entry(k.to_string()).or_default();
                e.0 += 1;
                e.1 += usize::from(right);
            }
        }
        let Some(person) = truth.person_id.as_deref().filter(|_| !right) else {
            continue;
        };
        let true_id = row_of[person] as i64 + 1;
        let rank = scored.iter().position(|s| s.person_id == true_id);
        let cause = match (candidates.contains(&true_id), rank, decision) {
            (false, _, _) => "not a candidate (blocking)".to_string(),
            (true, Some(0), Decision::NoUniqueMatch { reason }) => format!("refused: {reason:?}"),
            (true, _, Decision::NoUniqueMatch { reason }) => {
                format!("another scored higher, refused: {reason:?}")
            }
            (true, _, Decision::Unique { .. }) => "another person answered".to_string(),
        };
        if let (Some(f), Some(s)) = (misses.as_mut(), rank.map(|r| &scored[r])) {
            writeln!(
                f,
                "{}\t{}\t{}\t{:.1}\t{:?}",
                q.id, truth.kind, cause, s.score, s.comparison.levels
            )
            .expect("--misses file");
        }
        *why.entry(cause).or_default() += 1;
    }
    println!(
        "persons={} seed={seed} noise={noise} findable={findable} correct={correct} wrong={wrong} recall={:.4}",
        persons.len(),
        correct as f64 / findable.max(1) as f64
    );
    println!(
        "scoring: {scored_pairs} pairs in {:.3} s, {:.2} µs a pair",
        scoring.as_secs_f64(),
        scoring.as_secs_f64() * 1e6 / scored_pairs.max(1) as f64
    );
    for (cause, n) in why {
        println!("missed: {n:>6}  {cause}");
    }
    for (kind, (n, c)) in by_kind {
        println!("{kind:<16} {c:>6} of {n:>6} = {:.3}", c as f64 / n as f64);
    }
}
