-- Identity provider: post-logout redirect URIs registered per client (RP-initiated logout
-- goes back only to one of these), and revocation of the tokens issued from a code that
-- was presented twice (RFC 6749, section 4.1.2).
ALTER TABLE idp_clients ADD COLUMN post_logout_redirect_uris TEXT;
ALTER TABLE idp_codes ADD COLUMN revoked_at BIGINT;
