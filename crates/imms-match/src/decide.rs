//! The decision rule. A person is returned only when the best score passes the match
//! threshold, beats the second best by a margin, and is corroborated by something besides
//! name, date of birth and sex. Twins, a Jr and a Sr at one address and common-name clusters
//! fail the margin unless the evidence separates them; everything else is "no unique match".

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
    /// Require an agreeing middle name, street or ZIP besides name, date of birth and sex.
    pub require_corroboration: bool,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            match_weight: 20.0,
            margin: 8.0,
            review_weight: 12.0,
            require_corroboration: true,
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
    } else if t.require_corroboration && !best.corroborated() {
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
            decide(&[s(1, 40.0, false)], &t),
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
