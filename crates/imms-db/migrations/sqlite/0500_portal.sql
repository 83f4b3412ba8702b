-- The portal (crate imms-portal). No personal data: an account's subject, a keyed hash
-- (HMAC-SHA256 under a key in the data directory) of the name and date of birth first
-- matched for it, and audit events naming accounts and sessions by id only.
CREATE TABLE portal_bindings (
    subject TEXT PRIMARY KEY,
    identity_hash TEXT NOT NULL,
    bound_at BIGINT NOT NULL
);
CREATE TABLE portal_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    event TEXT NOT NULL,
    subject TEXT NOT NULL,
    session TEXT NOT NULL
);
CREATE INDEX portal_audit_subject ON portal_audit (subject, at);
