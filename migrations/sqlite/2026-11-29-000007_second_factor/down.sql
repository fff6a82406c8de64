DROP INDEX users_webauthn_id;
ALTER TABLE users DROP COLUMN webauthn_id;
DROP TABLE webauthn_challenges;
DROP TABLE passkeys;
DROP TABLE mfa_challenges;
DROP TABLE backup_codes;
DROP TABLE totp_secrets;
