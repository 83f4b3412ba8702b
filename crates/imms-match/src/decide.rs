//! The decision rule. A person is returned only when the best score passes the match
//! threshold and beats the second best by a margin. Twins, a Jr and a Sr at one address and
//! common-name clusters fail the margin unless the evidence separates them. A match that
//! nothing besides name, date of birth and sex supports must pass a far higher threshold:
//! a look-alike who is not in the registry looks exactly like it, so only a name rare
//! enough that a namesake born the same day is implausible may carry it.
//! Everything else is "no unique match".

use serde::{Deserialize, Serialize};

use crate::score::Scored;
use crate::{Decision, NoMatchReason};

/// Decision settings, in bits (log2 of the likelihood ratio). Defaults are chosen on the
/// synthetic evaluation set; docs/matching.md explains them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// The best candidate must score at least this.
    pub match_weight: f64,
    /// ... and this much more than the second best.
    pub margin: f64,
    /// Candidates scoring at least this (but not matched) are possible duplicates for staff.
    pub review_weight: f64,
    /// Never answer on name, date of birth and sex alone, however rare the name: require an
    /// agreeing middle name, street or ZIP (the strictest policy; off by default).
    pub require_corroboration: bool,
    /// A match that nothing besides name, date of birth and sex supports must score at
    /// least this (settings stored before it existed get the default).
    #[serde(default = "default_uncorroborated_weight")]
    pub uncorroborated_weight: f64,
}

fn default_uncorroborated_weight() -> f64 {
    Thresholds::default().uncorroborated_weight
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            match_weight: 23.0,
            margin: 8.0,
            review_weight: 12.0,
            require_corroboration: false,
            uncorroborated_weight: 36.0,
        }
    }
}

/// Decides on candidates sorted best first (as [`crate::score::score_all`] returns them).
pub fn decide(scored: &[Scored], t: &Thresholds) -> Decision {
    let Some(best) = scored.first() else {
        return Decision::NoUniqueMatch {
            reason: NoMatchReason::NoCandidate,
        };
    };
    let close_second = scored
        .get(1)
        .filter(|second| best.score - second.score < t.margin);
    // Two plausible people within the margin of each other are "too many" even when
    // neither passes the threshold: the asker learns that more facts are needed.
    let reason = if close_second.is_some_and(|s| s.score >= t.review_weight) {
        NoMatchReason::Ambiguous
    } else if best.score < t.match_weight {
        NoMatchReason::BelowThreshold
    } else if close_second.is_some() {
        NoMatchReason::Ambiguous
    } else if !best.corroborated()
        && (t.require_corroboration || best.score < t.uncorroborated_weight)
    {
        NoMatchReason::NotCorroborated
    } else {
        return Decision::Unique {
            person_id: best.person_id,
            score: best.score,
        };
    };
    Decision::NoUniqueMatch { reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::{Comparison, ADDRESS};

    fn s(id: i64, score: f64, address_agrees: bool) -> Scored {
        let mut comparison = Comparison::default();
        comparison.levels[ADDRESS] = Some(if address_agrees { 0 } else { 3 });
        Scored {
            person_id: id,
            score,
            comparison,
        }
    }

    #[test]
    fn settings_stored_before_the_uncorroborated_weight_still_load() {
        let old = r#"{"match_weight":20.0,"margin":8.0,"review_weight":12.0,"require_corroboration":true}"#;
        let t: Thresholds = serde_json::from_str(old).unwrap();
        assert!(t.require_corroboration);
        assert_eq!(
            t.uncorroborated_weight,
            Thresholds::default().uncorroborated_weight
        );
    }

    #[test]
    fn threshold_margin_and_corroboration() {
        let t = Thresholds::default();
        let no = |reason| Decision::NoUniqueMatch { reason };
        assert_eq!(decide(&[], &t), no(NoMatchReason::NoCandidate));
        assert_eq!(
            decide(&[s(1, 10.0, true)], &t),
            no(NoMatchReason::BelowThreshold)
        );
        assert_eq!(
            decide(&[s(1, 40.0, true), s(2, 35.0, true)], &t),
            no(NoMatchReason::Ambiguous)
        );
        assert_eq!(
            decide(&[s(1, 30.0, false)], &t),
            no(NoMatchReason::NotCorroborated)
        );
        // A rare full name with the exact date of birth carries a match alone, unless
        // corroboration is required.
        assert_eq!(
            decide(&[s(1, 37.0, false)], &t),
            Decision::Unique {
                person_id: 1,
                score: 37.0
            }
        );
        let strict = Thresholds {
            require_corroboration: true,
            ..t
        };
        assert_eq!(
            decide(&[s(1, 37.0, false)], &strict),
            no(NoMatchReason::NotCorroborated)
        );
        assert_eq!(
            decide(&[s(1, 40.0, true), s(2, 20.0, true)], &t),
            Decision::Unique {
                person_id: 1,
                score: 40.0
            }
        );
    }
}
