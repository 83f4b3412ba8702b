//! Mail through lettre: SMTP when `IMMS_SMTP_URL` is set, otherwise one `.eml` file per
//! message in `<data dir>/outbox`, which the demo and the tests read. Nothing about a
//! message (address, code) is logged.

use std::path::PathBuf;

use lettre::message::header::ContentType;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the mail settings are not usable: {0}")]
    Config(String),
    #[error("the mail could not be sent")]
    Send,
}

pub enum Mailer {
    Outbox(AsyncFileTransport<Tokio1Executor>, PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl Mailer {
    pub fn new(smtp_url: Option<&str>, outbox: PathBuf) -> Result<Mailer, MailError> {
        match smtp_url {
            Some(url) => Ok(Mailer::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| MailError::Config(e.to_string()))?
                    .build(),
            )),
            None => {
                std::fs::create_dir_all(&outbox).map_err(|e| MailError::Config(e.to_string()))?;
                Ok(Mailer::Outbox(AsyncFileTransport::new(&outbox), outbox))
            }
        }
    }

    pub async fn send(
        &self,
        from: &str,
        to: &str,
        subject: &str,
        body: String,
    ) -> Result<(), MailError> {
        let message = Message::builder()
            .from(
                from.parse()
                    .map_err(|_| MailError::Config("IMMS_MAIL_FROM is not an address".into()))?,
            )
            .to(to.parse().map_err(|_| MailError::Send)?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|_| MailError::Send)?;
        let ok = match self {
            Mailer::Outbox(t, _) => t.send(message).await.is_ok(),
            Mailer::Smtp(t) => t.send(message).await.is_ok(),
        };
        if ok {
            tracing::info!(kind = subject_kind(subject), "mail sent");
            Ok(())
        } else {
            tracing::warn!("mail could not be sent");
            Err(MailError::Send)
        }
    }
}

fn subject_kind(subject: &str) -> &'static str {
    if subject.contains("sign-up") || subject.contains("registro") {
        "signup"
    } else if subject.contains("password") || subject.contains("contraseña") {
        "recovery"
    } else {
        "code"
    }
}
