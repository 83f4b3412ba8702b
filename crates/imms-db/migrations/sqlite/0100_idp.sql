-- Identity provider: accounts, sessions, OIDC clients, authorization requests and codes,
-- one-time codes and used CSRF tokens. Times are Unix seconds (BIGINT) so that lockout and
-- expiry compare as numbers on both engines. Secrets (session tokens, codes, one-time codes,
-- client secrets) are stored only as hashes; the SSN only as an HMAC-SHA-256 with a pepper.

CREATE TABLE idp_accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    user_key TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    acct_type TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    ssn_hmac TEXT,
    totp_secret TEXT,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    password_changed_at BIGINT NOT NULL
);
-- One citizen account per SSN; other account types are not counted.
CREATE UNIQUE INDEX idp_accounts_citizen_ssn ON idp_accounts(ssn_hmac) WHERE acct_type = 'citizen';

-- Failed sign-in counts and locks, per account ('a:<id>') and per unknown user ID
-- ('u:<keyed hash>'), so that an unknown user ID behaves exactly like a known one.
CREATE TABLE idp_lockouts (
    lock_key TEXT PRIMARY KEY,
    failed_count BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    lock_events BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
);

CREATE TABLE idp_sessions (
    token_hash TEXT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES idp_accounts(id) ON DELETE CASCADE,
    auth_time BIGINT NOT NULL,
    amr TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX idp_sessions_account ON idp_sessions(account_id);

CREATE TABLE idp_clients (
    client_id TEXT PRIMARY KEY,
    secret_hash TEXT,
    redirect_uris TEXT NOT NULL,
    public_client BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE idp_auth_requests (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES idp_clients(client_id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    state TEXT,
    nonce TEXT,
    code_challenge TEXT,
    max_age BIGINT,
    prompt_login BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE idp_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    account_id BIGINT NOT NULL REFERENCES idp_accounts(id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    auth_time BIGINT NOT NULL,
    amr TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE idp_otps (
    id TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    account_id BIGINT REFERENCES idp_accounts(id) ON DELETE CASCADE,
    payload TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE idp_used_csrf (
    token_hash TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
