//! Lockout as pure logic with the clock as an input.
//!
//! A sign-in attempt first *reserves* a guess ([`admit`]); only then is the password
//! checked. Reserving counts the guess as a failure until the password proves right
//! ([`after_success`] clears the count). So under any number of parallel attempts no more
//! than `max_failures` guesses are ever checked, and the one attempt that took the last
//! guess and was wrong is the one that locks the account ([`after_failure`]) — exactly once.
//! A lock lifts by itself: once `locked_until` has passed, the next attempt starts a fresh
//! count. The store applies the same transitions atomically in SQL (see `store.rs`); the
//! conformance suite checks the two agree on both engines.

use crate::clock::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub max_failures: u32,
    pub lock_seconds: i64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            max_failures: 5,
            lock_seconds: 30 * 60,
        }
    }
}

/// What the store keeps per account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttemptState {
    pub failed: u32,
    pub locked_until: Option<Timestamp>,
    pub lock_events: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The password may be checked; this is guess number `guess` of the current count.
    Allowed { guess: u32 },
    /// No guess allowed; the account opens again at `until` (None: a guess is in flight
    /// that may still lock it — treated as locked).
    Locked { until: Option<Timestamp> },
}

pub fn is_locked(s: &AttemptState, now: Timestamp, p: &LockoutPolicy) -> bool {
    match s.locked_until {
        Some(until) => until > now,
        None => s.failed >= p.max_failures,
    }
}

/// Reserves a guess, or refuses.
pub fn admit(s: &AttemptState, now: Timestamp, p: &LockoutPolicy) -> (AttemptState, Admission) {
    match s.locked_until {
        Some(until) if until > now => (*s, Admission::Locked { until: Some(until) }),
        Some(_) => {
            // The lock has lifted by itself: a fresh count starts with this guess.
            let next = AttemptState {
                failed: 1,
                locked_until: None,
                ..*s
            };
            (next, Admission::Allowed { guess: 1 })
        }
        None if s.failed >= p.max_failures => (*s, Admission::Locked { until: None }),
        None => {
            let next = AttemptState {
                failed: s.failed + 1,
                ..*s
            };
            (next, Admission::Allowed { guess: next.failed })
        }
    }
}

/// The reserved guess was wrong: lock when it was the last one allowed.
pub fn after_failure(
    s: &AttemptState,
    guess: u32,
    now: Timestamp,
    p: &LockoutPolicy,
) -> (AttemptState, bool) {
    if guess >= p.max_failures && s.failed >= p.max_failures && s.locked_until.is_none() {
        (
            AttemptState {
                locked_until: Some(now + p.lock_seconds),
                lock_events: s.lock_events + 1,
                ..*s
            },
            true,
        )
    } else {
        (*s, false)
    }
}

/// The reserved guess was right: the count starts again.
pub fn after_success(s: &AttemptState) -> AttemptState {
    AttemptState {
        failed: 0,
        locked_until: None,
        ..*s
    }
}

/// The helpline's unlock.
pub fn unlock(s: &AttemptState) -> AttemptState {
    after_success(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, FakeClock};

    fn wrong(s: &mut AttemptState, clock: &FakeClock, p: &LockoutPolicy) -> Admission {
        let (next, a) = admit(s, clock.now(), p);
        *s = next;
        if let Admission::Allowed { guess } = a {
            *s = after_failure(s, guess, clock.now(), p).0;
        }
        a
    }

    #[test]
    fn five_failures_lock_for_thirty_minutes_then_it_opens_by_itself() {
        let clock = FakeClock::at(1_700_000_000);
        let p = LockoutPolicy::default();
        let mut s = AttemptState::default();
        for i in 1..=5 {
            assert_eq!(wrong(&mut s, &clock, &p), Admission::Allowed { guess: i });
        }
        assert!(is_locked(&s, clock.now(), &p));
        assert_eq!(s.lock_events, 1);
        assert_eq!(
            wrong(&mut s, &clock, &p),
            Admission::Locked {
                until: Some(1_700_000_000 + 1800)
            }
        );
        clock.advance(29 * 60 + 59);
        assert!(is_locked(&s, clock.now(), &p), "still locked at 29:59");
        clock.advance(1);
        assert!(
            !is_locked(&s, clock.now(), &p),
            "open at 30:00, with no action"
        );
        // A fresh count of five.
        let (next, a) = admit(&s, clock.now(), &p);
        assert_eq!(a, Admission::Allowed { guess: 1 });
        s = after_success(&next);
        assert_eq!(s.failed, 0);
        assert_eq!(s.lock_events, 1);
    }

    #[test]
    fn a_right_password_resets_the_count() {
        let clock = FakeClock::at(0);
        let p = LockoutPolicy::default();
        let mut s = AttemptState::default();
        for _ in 0..4 {
            wrong(&mut s, &clock, &p);
        }
        let (next, a) = admit(&s, clock.now(), &p);
        assert_eq!(a, Admission::Allowed { guess: 5 });
        s = after_success(&next);
        assert_eq!(s, AttemptState::default());
    }

    #[test]
    fn reservations_in_flight_never_exceed_the_limit() {
        // Ten attempts reserve before any is checked: only five get through.
        let p = LockoutPolicy::default();
        let mut s = AttemptState::default();
        let mut guesses = vec![];
        for _ in 0..10 {
            let (next, a) = admit(&s, 0, &p);
            s = next;
            if let Admission::Allowed { guess } = a {
                guesses.push(guess);
            }
        }
        assert_eq!(guesses, vec![1, 2, 3, 4, 5]);
        let mut locks = 0;
        for g in guesses {
            let (next, locked) = after_failure(&s, g, 0, &p);
            s = next;
            locks += locked as u32;
        }
        assert_eq!(locks, 1);
    }

    #[test]
    fn the_limit_is_configurable() {
        let clock = FakeClock::at(0);
        let p = LockoutPolicy {
            max_failures: 3,
            lock_seconds: 60,
        };
        let mut s = AttemptState::default();
        for _ in 0..3 {
            wrong(&mut s, &clock, &p);
        }
        assert!(is_locked(&s, 0, &p));
        assert!(!is_locked(&s, 60, &p));
    }
}
