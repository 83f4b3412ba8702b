//! HTTP plumbing shared by the pages and the OIDC endpoints: the router, security
//! headers, rate limits per client address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;

use crate::Idp;

/// A fixed-window counter per client address (per node; the lockout is the per-account
/// limit and lives in the database).
pub struct RateLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// True when this address may make one more request now.
    pub fn allow(&self, ip: IpAddr) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let mut w = self.windows.lock().expect("rate lock");
        let now = Instant::now();
        if w.len() > 100_000 {
            w.retain(|_, (start, _)| now.duration_since(*start).as_secs() < 60);
        }
        let e = w.entry(ip).or_insert((now, 0));
        if now.duration_since(e.0).as_secs() >= 60 {
            *e = (now, 0);
        }
        e.1 += 1;
        e.1 <= self.per_minute
    }
}

pub fn router(idp: Arc<Idp>) -> Router {
    let _ = idp;
    Router::new()
}
