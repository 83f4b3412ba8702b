-- Sessions of the portal and the console (crate imms-web). The browser holds a random
-- token; only its SHA-256 is kept here. No personal data: account subject, user ID and type,
-- the ID token for signing out at the provider, a CSRF token, and the application's ids.
CREATE TABLE web_sessions (
    id_hash TEXT PRIMARY KEY,
    realm TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL,
    acct_type TEXT NOT NULL,
    id_token TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);
CREATE INDEX web_sessions_subject ON web_sessions (realm, subject);
CREATE INDEX web_sessions_last_seen ON web_sessions (last_seen);
