//! Prometheus metrics of the registry: messages by transport, facility and outcome, and how
//! long the answer took.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    messages: IntCounterVec,
    latency: HistogramVec,
    auth_failures: IntCounterVec,
}

impl Default for Metrics {
    fn default() -> Self {
        let registry = Registry::new();
        let messages = IntCounterVec::new(
            Opts::new(
                "imms_hl7_messages_total",
                "HL7 messages answered, by transport, sending facility and MSA-1 outcome",
            ),
            &["transport", "facility", "outcome"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "imms_hl7_ack_seconds",
                "Time from receiving a message to its answer",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["transport"],
        )
        .expect("valid metric");
        let auth_failures = IntCounterVec::new(
            Opts::new(
                "imms_hl7_auth_failures_total",
                "Requests refused for missing or wrong credentials",
            ),
            &["transport"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(messages.clone()))
            .expect("register");
        registry
            .register(Box::new(latency.clone()))
            .expect("register");
        registry
            .register(Box::new(auth_failures.clone()))
            .expect("register");
        Metrics {
            registry,
            messages,
            latency,
            auth_failures,
        }
    }
}

impl Metrics {
    pub fn observe(&self, transport: &str, facility: &str, outcome: &str, seconds: f64) {
        let facility = if facility.is_empty() {
            "unknown"
        } else {
            facility
        };
        self.messages
            .with_label_values(&[transport, facility, outcome])
            .inc();
        self.latency
            .with_label_values(&[transport])
            .observe(seconds);
    }

    pub fn auth_failure(&self, transport: &str) {
        self.auth_failures.with_label_values(&[transport]).inc();
    }

    pub fn render(&self) -> String {
        let mut buf = String::new();
        prometheus::TextEncoder::new()
            .encode_utf8(&self.registry.gather(), &mut buf)
            .expect("text encoding");
        buf
    }
}
