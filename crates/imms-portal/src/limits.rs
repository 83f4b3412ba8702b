//! Rate limits on uploads and look-ups, per account and per client address, and a growing
//! wait after repeated searches that find no one (so the portal cannot be used to probe who
//! is in the registry). Kept in memory: a restart forgives, which errs on the side of people.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct LimitConfig {
    /// Uploads plus searches allowed per account in `window`.
    pub per_account: u32,
    /// Uploads plus searches allowed per client address in `window`.
    pub per_ip: u32,
    pub window: Duration,
    /// No-match searches allowed in a row before waiting starts.
    pub free_misses: u32,
    /// The first wait; it doubles with each further miss, up to `max_wait`.
    pub first_wait: Duration,
    pub max_wait: Duration,
}

impl Default for LimitConfig {
    fn default() -> Self {
        LimitConfig {
            per_account: 20,
            per_ip: 60,
            window: Duration::from_secs(15 * 60),
            free_misses: 3,
            first_wait: Duration::from_secs(30),
            max_wait: Duration::from_secs(60 * 60),
        }
    }
}

#[derive(Default)]
struct Counters {
    windows: HashMap<String, (Instant, u32)>,
    /// account → (misses in a row, time of the last miss)
    misses: HashMap<String, (u32, Instant)>,
}

pub struct Limiter {
    config: LimitConfig,
    state: Mutex<Counters>,
}

/// Refused: wait this long.
#[derive(Debug, PartialEq, Eq)]
pub struct Wait(pub Duration);

impl Limiter {
    pub fn new(config: LimitConfig) -> Limiter {
        Limiter {
            config,
            state: Mutex::new(Counters::default()),
        }
    }

    /// Counts one upload or search by `account` from `ip`; refuses past either limit.
    pub fn admit(&self, account: &str, ip: &str, now: Instant) -> Result<(), Wait> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.windows.len() > 100_000 {
            let window = self.config.window;
            s.windows
                .retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let window = self.config.window;
        let mut check = |key: String, limit: u32| -> Result<(), Wait> {
            let entry = s.windows.entry(key).or_insert((now, 0));
            if now.duration_since(entry.0) >= window {
                *entry = (now, 0);
            }
            if entry.1 >= limit {
                return Err(Wait(window.saturating_sub(now.duration_since(entry.0))));
            }
            entry.1 += 1;
            Ok(())
        };
        check(format!("a:{account}"), self.config.per_account)?;
        check(format!("i:{ip}"), self.config.per_ip)
    }

    /// Before a search: how long this account must still wait after its misses.
    pub fn search_wait(&self, account: &str, now: Instant) -> Result<(), Wait> {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(&(misses, last)) = s.misses.get(account) else {
            return Ok(());
        };
        if misses < self.config.free_misses {
            return Ok(());
        }
        let doublings = (misses - self.config.free_misses).min(16);
        let wait = self
            .config
            .first_wait
            .saturating_mul(1 << doublings)
            .min(self.config.max_wait);
        let waited = now.duration_since(last);
        if waited >= wait {
            Ok(())
        } else {
            Err(Wait(wait - waited))
        }
    }

    pub fn missed(&self, account: &str, now: Instant) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let entry = s.misses.entry(account.to_string()).or_insert((0, now));
        entry.0 += 1;
        entry.1 = now;
    }

    pub fn found(&self, account: &str) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.misses.remove(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> Limiter {
        Limiter::new(LimitConfig {
            per_account: 3,
            per_ip: 5,
            window: Duration::from_secs(60),
            free_misses: 2,
            first_wait: Duration::from_secs(10),
            max_wait: Duration::from_secs(25),
        })
    }

    #[test]
    fn per_account_and_per_ip() {
        let l = limiter();
        let t = Instant::now();
        for _ in 0..3 {
            l.admit("a", "1.1.1.1", t).unwrap();
        }
        assert!(l.admit("a", "1.1.1.1", t).is_err());
        // Another account from the same address: the address's budget of 5 runs out.
        l.admit("b", "1.1.1.1", t).unwrap();
        l.admit("b", "1.1.1.1", t).unwrap();
        assert!(l.admit("b", "1.1.1.1", t).is_err());
        assert!(l.admit("c", "2.2.2.2", t).is_ok());
        // The window passes.
        assert!(l.admit("a", "3.3.3.3", t + Duration::from_secs(61)).is_ok());
    }

    #[test]
    fn misses_slow_down_and_a_match_forgives() {
        let l = limiter();
        let t = Instant::now();
        l.missed("a", t);
        l.missed("a", t);
        assert_eq!(l.search_wait("a", t), Err(Wait(Duration::from_secs(10))));
        assert!(l.search_wait("a", t + Duration::from_secs(10)).is_ok());
        l.missed("a", t);
        assert_eq!(l.search_wait("a", t), Err(Wait(Duration::from_secs(20))));
        l.missed("a", t);
        assert_eq!(l.search_wait("a", t), Err(Wait(Duration::from_secs(25))));
        assert!(l.search_wait("b", t).is_ok());
        l.found("a");
        assert!(l.search_wait("a", t).is_ok());
    }
}
