-- Identity provider: the last TOTP time step accepted per account, so a code is never
-- accepted twice (RFC 6238, section 5.2).
ALTER TABLE idp_accounts ADD COLUMN totp_last_step BIGINT;
