//! HL7 v2 over MLLP (minimal lower layer protocol) on TCP: each message is framed as
//! `0x0B` message `0x1C 0x0D`, and each gets its answer (ACK or RSP) framed the same way on
//! the same connection, in order. A connection carries any number of messages.
//!
//! ## Who may send
//! MLLP has no credentials of its own, so each message carries its facility's credential
//! (from `imms org add`) in MSH-8 (Security) as `user:password`, and MSH-4 must be the
//! facility that credential belongs to, as over HTTP and SOAP. A message without a valid
//! credential gets an AR and stores nothing. Source-address allow-lists were not chosen:
//! clinics reach a state through NAT, VPN concentrators and interface engines that share or
//! rewrite addresses, so an address says little about which facility is sending, while a
//! per-facility secret does, works the same on every transport, and is rotated with the
//! same command. MLLP is plain text: run it inside a VPN or a TLS tunnel.
//!
//! ## Limits
//! A message larger than [`MllpLimits::max_message_bytes`], bytes that are not an MLLP frame
//! holding HL7, a frame not finished within [`MllpLimits::frame_timeout`], or a connection
//! idle for [`MllpLimits::idle_timeout`] are cut off: the connection is closed, and nothing
//! waits on it. Every connection is a task, never a thread, and at most
//! [`MllpLimits::max_connections`] are open at once (more are closed at once).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use imms_hl7::{parse, Delimiters};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::ack::{build_ack, AckCode, AckContext};
use crate::http::{authenticate, Hl7Http};
use crate::ingest::Authority;
use crate::problem::{Condition, Location, Problem, Scope};
use crate::vxu::Header;

pub const START_BLOCK: u8 = 0x0B;
pub const END_BLOCK: u8 = 0x1C;
pub const CARRIAGE_RETURN: u8 = 0x0D;

#[derive(Debug, Clone)]
pub struct MllpLimits {
    pub max_message_bytes: usize,
    /// How long a connection may wait between messages.
    pub idle_timeout: Duration,
    /// How long a sender has to finish a message once its start block came.
    pub frame_timeout: Duration,
    /// Connections open at once; more are closed on arrival.
    pub max_connections: usize,
    /// Wrong credentials tolerated on one connection before it is closed.
    pub max_refusals: usize,
}

impl Default for MllpLimits {
    fn default() -> Self {
        MllpLimits {
            max_message_bytes: crate::http::MAX_MESSAGE_BYTES,
            idle_timeout: Duration::from_secs(60),
            frame_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_refusals: 3,
        }
    }
}

pub struct Mllp {
    /// The same state the HTTP transport uses: ingestor, metrics, verified-password cache.
    pub hl7: Arc<Hl7Http>,
    pub limits: MllpLimits,
}

/// Wraps a message in an MLLP frame.
pub fn frame(message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 3);
    out.push(START_BLOCK);
    out.extend_from_slice(message.as_bytes());
    out.push(END_BLOCK);
    out.push(CARRIAGE_RETURN);
    out
}

/// Why a connection was closed (for the log; never content).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    ByPeer,
    Idle,
    StalledFrame,
    TooLarge,
    NotHl7,
    Refused,
    Io,
}

impl Closed {
    fn reason(self) -> &'static str {
        match self {
            Closed::ByPeer => "closed by the sender",
            Closed::Idle => "idle too long",
            Closed::StalledFrame => "message not finished in time",
            Closed::TooLarge => "message over the size limit",
            Closed::NotHl7 => "bytes that are not MLLP-framed HL7",
            Closed::Refused => "too many refused credentials",
            Closed::Io => "network error",
        }
    }
}

/// Accepts connections until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: Arc<Mllp>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(state.limits.max_connections));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => return,
            a = listener.accept() => a,
        };
        let (stream, _) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(transport = "mllp", error = %e, "could not accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(
                transport = "mllp",
                limit = state.limits.max_connections,
                "too many MLLP connections: closed a new one"
            );
            drop(stream);
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let closed = connection(stream, &state).await;
            tracing::debug!(
                transport = "mllp",
                reason = closed.reason(),
                "MLLP connection closed"
            );
            drop(permit);
        });
    }
}

enum Next {
    Message(Vec<u8>),
    Close(Closed),
}

/// Reads the next frame from the connection; `buf` keeps bytes read past it.
async fn next_frame(stream: &mut TcpStream, buf: &mut Vec<u8>, limits: &MllpLimits) -> Next {
    // Between messages: only whitespace may come before the start block.
    loop {
        let skip = buf
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t'))
            .count();
        buf.drain(..skip);
        if let Some(&first) = buf.first() {
            if first != START_BLOCK {
                return Next::Close(Closed::NotHl7);
            }
            break;
        }
        match read_more(stream, buf, limits.idle_timeout).await {
            Ok(0) => return Next::Close(Closed::ByPeer),
            Ok(_) => {}
            Err(c) => return Next::Close(c),
        }
    }
    let started = Instant::now();
    let mut searched = 1;
    loop {
        if let Some(pos) = buf[searched..].iter().position(|&b| b == END_BLOCK) {
            let end = searched + pos;
            match buf.get(end + 1) {
                Some(&CARRIAGE_RETURN) => {
                    let message = buf[1..end].to_vec();
                    buf.drain(..end + 2);
                    return Next::Message(message);
                }
                Some(_) => return Next::Close(Closed::NotHl7),
                None => searched = end,
            }
        } else {
            searched = buf.len();
        }
        if buf.len() > limits.max_message_bytes + 2 {
            return Next::Close(Closed::TooLarge);
        }
        let left = limits.frame_timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Next::Close(Closed::StalledFrame);
        }
        match read_more(stream, buf, left).await {
            Ok(0) => return Next::Close(Closed::ByPeer),
            Ok(_) => {}
            Err(Closed::Idle) => return Next::Close(Closed::StalledFrame),
            Err(c) => return Next::Close(c),
        }
    }
}

async fn read_more(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    wait: Duration,
) -> Result<usize, Closed> {
    let mut chunk = [0u8; 16 * 1024];
    match tokio::time::timeout(wait, stream.read(&mut chunk)).await {
        Err(_) => Err(Closed::Idle),
        Ok(Err(_)) => Err(Closed::Io),
        Ok(Ok(n)) => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(n)
        }
    }
}

async fn connection(mut stream: TcpStream, state: &Mllp) -> Closed {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(8 * 1024);
    let mut refusals = 0;
    loop {
        let message = match next_frame(&mut stream, &mut buf, &state.limits).await {
            Next::Message(m) => m,
            Next::Close(c) => return c,
        };
        let started = Instant::now();
        let text = match String::from_utf8(message) {
            Ok(t) => t,
            // Older systems send Latin-1: every byte maps to the same code point.
            Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
        };
        if !text
            .trim_start_matches(['\u{feff}', '\r', '\n', ' '])
            .starts_with("MSH")
        {
            return Closed::NotHl7;
        }
        let (answer, code, facility) = answer_one(state, &text).await;
        if code == "refused" {
            refusals += 1;
        }
        let seconds = started.elapsed().as_secs_f64();
        state.hl7.metrics.observe(
            "mllp",
            &facility,
            if code == "refused" { "AR" } else { code },
            seconds,
        );
        let write = tokio::time::timeout(
            state.limits.frame_timeout,
            stream.write_all(&frame(&answer)),
        )
        .await;
        if !matches!(write, Ok(Ok(()))) {
            return Closed::Io;
        }
        if refusals >= state.limits.max_refusals {
            return Closed::Refused;
        }
    }
}

/// The credential in MSH-8, as `user:password`.
fn credential(raw: &str) -> Option<(String, String)> {
    let message = parse(raw).ok()?;
    let msh = message.first("MSH")?;
    let security = msh.field(8).value();
    let (user, password) = security.trim().split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Answers one message: (answer text, MSA-1 or "refused", facility for the metrics).
async fn answer_one(state: &Mllp, raw: &str) -> (String, &'static str, String) {
    let hl7 = &state.hl7;
    let facility = match credential(raw) {
        Some((user, password)) => authenticate(hl7, &user, &password).await,
        None => None,
    };
    let Some(facility) = facility else {
        hl7.metrics.auth_failure("mllp");
        let _ = hl7
            .ingestor
            .store()
            .audit(Utc::now(), "mllp", None, None, "refused credentials")
            .await;
        tracing::warn!(
            transport = "mllp",
            "refused HL7 message: no valid facility credential in MSH-8"
        );
        return (refusal_ack(hl7, raw), "refused", String::new());
    };
    match crate::exchange::answer(&hl7.ingestor, raw, Authority::Facility(&facility)).await {
        Ok(a) => {
            tracing::info!(transport = "mllp", facility = %facility, control_id = %a.control_id, kind = a.kind, outcome = a.code, "HL7 message answered");
            (a.text, a.code, facility)
        }
        Err(e) => {
            tracing::error!(transport = "mllp", facility = %facility, error = %e, "could not store an HL7 message");
            (hl7.ingestor.internal_error_ack(raw), "AR", facility)
        }
    }
}

/// AR for a message without a valid credential; names only the message's own header.
fn refusal_ack(hl7: &Hl7Http, raw: &str) -> String {
    let header = parse(raw).ok().map(|m| Header::read(&m).0);
    let default = Delimiters::default();
    let now = Utc::now();
    let ack_id = format!("{}M", now.format("%Y%m%d%H%M%S%6f"));
    let ctx = AckContext {
        registry_id: hl7.ingestor.registry_id(),
        delimiters: header.as_ref().map(|h| &h.delimiters).unwrap_or(&default),
        sending_application: header
            .as_ref()
            .map(|h| h.sending_application.as_str())
            .unwrap_or(""),
        sending_facility: header
            .as_ref()
            .map(|h| h.facility_id.as_str())
            .unwrap_or(""),
        control_id: header.as_ref().map(|h| h.control_id.as_str()).unwrap_or(""),
        processing_id: header
            .as_ref()
            .map(|h| h.processing_id.as_str())
            .unwrap_or("P"),
        now,
        ack_control_id: &ack_id,
    };
    let problem = Problem::new(
        Location::new("MSH", 1, 8),
        Condition::UnknownKeyIdentifier,
        Scope::Message,
        "Over MLLP, MSH-8 (security) must carry the sending facility's credential as user:password (imms org add); nothing was stored.",
    );
    build_ack(&ctx, AckCode::Reject, &[problem])
}

/// MSH-8 (security) of `message` set to `value`, for senders that carry the credential
/// there. Messages without a readable MSH are returned unchanged.
pub fn set_security(message: &str, value: &str) -> String {
    let (first, rest) = match message.find(['\r', '\n']) {
        Some(i) => (&message[..i], &message[i..]),
        None => (message, ""),
    };
    let Some(sep) = first.strip_prefix("MSH").and_then(|s| s.chars().next()) else {
        return message.to_string();
    };
    let mut fields: Vec<&str> = first.split(sep).collect();
    // fields[0] = "MSH", fields[1] = MSH-2, so MSH-n is fields[n - 1].
    while fields.len() < 8 {
        fields.push("");
    }
    fields[7] = value;
    let mut out = fields.join(&sep.to_string());
    out.push_str(rest);
    out
}

/// One MLLP connection of a sender: frames a message, waits for its framed answer.
pub struct MllpClient {
    stream: TcpStream,
    buf: Vec<u8>,
    timeout: Duration,
}

impl MllpClient {
    pub async fn connect(addr: &str, timeout: Duration) -> std::io::Result<MllpClient> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
            })??;
        let _ = stream.set_nodelay(true);
        Ok(MllpClient {
            stream,
            buf: Vec::new(),
            timeout,
        })
    }

    /// Sends one message and returns the answer (ACK or RSP).
    pub async fn send(&mut self, message: &str) -> std::io::Result<String> {
        let timed_out = || std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in time");
        tokio::time::timeout(self.timeout, self.stream.write_all(&frame(message)))
            .await
            .map_err(|_| timed_out())??;
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(end) = self
                .buf
                .windows(2)
                .position(|w| w == [END_BLOCK, CARRIAGE_RETURN])
            {
                let start = usize::from(self.buf.first() == Some(&START_BLOCK));
                let answer = String::from_utf8_lossy(&self.buf[start..end]).into_owned();
                self.buf.drain(..end + 2);
                return Ok(answer);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let mut chunk = [0u8; 16 * 1024];
            let n = tokio::time::timeout(left, self.stream.read(&mut chunk))
                .await
                .map_err(|_| timed_out())??;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the registry closed the connection",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_msh_8() {
        assert_eq!(
            set_security(
                "MSH|^~\\&|A|B|C|D|20240101||VXU^V04|1|P|2.5.1\rPID|1\r",
                "u:p"
            ),
            "MSH|^~\\&|A|B|C|D|20240101|u:p|VXU^V04|1|P|2.5.1\rPID|1\r"
        );
        assert_eq!(
            set_security("MSH|^~\\&|A\r", "u:p"),
            "MSH|^~\\&|A|||||u:p\r"
        );
        assert_eq!(set_security("garbage", "u:p"), "garbage");
    }
}
