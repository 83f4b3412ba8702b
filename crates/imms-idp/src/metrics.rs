//! Prometheus counters of the identity provider, for the shared `/metrics`: sign-ins by
//! outcome, lockouts, sign-ups, password resets, codes sent, tokens issued and revoked.
//! Labels are outcomes, purposes and client IDs only — never a user ID, address or code.

pub use prometheus::Registry;
use prometheus::{IntCounter, IntCounterVec, Opts};

#[derive(Clone)]
pub struct IdpMetrics {
    /// Password checks by outcome: ok, wrong, locked, disabled.
    pub sign_ins: IntCounterVec,
    /// Accounts (or unknown user IDs) locked after too many failures: once per lock.
    pub lockouts: IntCounter,
    /// Citizen accounts created through the sign-up pages.
    pub sign_ups: IntCounter,
    /// Passwords set through "Forgot your password?".
    pub password_resets: IntCounter,
    /// One-time codes emailed, by purpose: signup, mfa, reset.
    pub codes_sent: IntCounterVec,
    /// Token responses, by client ID (registered clients only).
    pub tokens_issued: IntCounterVec,
    /// Grants revoked because their authorization code was presented again.
    pub tokens_revoked: IntCounter,
}

impl Default for IdpMetrics {
    fn default() -> Self {
        let vec = |name: &str, help: &str, label: &str| {
            IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid metric")
        };
        let one = |name: &str, help: &str| IntCounter::new(name, help).expect("valid metric");
        IdpMetrics {
            sign_ins: vec(
                "imms_idp_sign_ins_total",
                "Password sign-ins, by outcome (ok, wrong, locked, disabled)",
                "outcome",
            ),
            lockouts: one(
                "imms_idp_lockouts_total",
                "Sign-in locks started after too many failed attempts",
            ),
            sign_ups: one(
                "imms_idp_sign_ups_total",
                "Citizen accounts created by sign-up",
            ),
            password_resets: one(
                "imms_idp_password_resets_total",
                "Passwords reset through the forgot-password flow",
            ),
            codes_sent: vec(
                "imms_idp_codes_sent_total",
                "One-time codes emailed, by purpose (signup, mfa, reset)",
                "purpose",
            ),
            tokens_issued: vec(
                "imms_idp_tokens_issued_total",
                "Token responses (ID and access token), by client",
                "client_id",
            ),
            tokens_revoked: one(
                "imms_idp_tokens_revoked_total",
                "Grants whose tokens were revoked because their code was reused",
            ),
        }
    }
}

impl IdpMetrics {
    /// Adds these counters to a registry (the one `/metrics` renders). Registering the
    /// same counters twice is harmless.
    pub fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        let all: [Box<dyn prometheus::core::Collector>; 7] = [
            Box::new(self.sign_ins.clone()),
            Box::new(self.lockouts.clone()),
            Box::new(self.sign_ups.clone()),
            Box::new(self.password_resets.clone()),
            Box::new(self.codes_sent.clone()),
            Box::new(self.tokens_issued.clone()),
            Box::new(self.tokens_revoked.clone()),
        ];
        for c in all {
            match registry.register(c) {
                Ok(()) | Err(prometheus::Error::AlreadyReg) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_in_a_shared_registry() {
        let registry = Registry::new();
        let m = IdpMetrics::default();
        m.register(&registry).unwrap();
        m.register(&registry).unwrap();
        m.sign_ins.with_label_values(&["ok"]).inc();
        m.codes_sent.with_label_values(&["signup"]).inc();
        let mut text = String::new();
        prometheus::TextEncoder::new()
            .encode_utf8(&registry.gather(), &mut text)
            .unwrap();
        assert!(
            text.contains("imms_idp_sign_ins_total{outcome=\"ok\"} 1"),
            "{text}"
        );
        assert!(text.contains("imms_idp_codes_sent_total{purpose=\"signup\"} 1"));
        assert!(text.contains("imms_idp_lockouts_total 0"));
    }
}
