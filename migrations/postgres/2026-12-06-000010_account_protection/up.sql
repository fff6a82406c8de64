-- When a session last proved the factors its account needs, and with which methods
-- (RFC 8176 `amr` values, comma-separated): what "recent authentication" is judged by.
-- NULL for sessions opened before this was kept: never fresh.
ALTER TABLE sessions ADD COLUMN auth_time TIMESTAMP;
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '';

-- What a sign-in changes on the account once its second factor is given (a new password
-- from a reset link, an identity to link), kept with the challenge until then.
ALTER TABLE mfa_challenges ADD COLUMN pending TEXT;

-- A social sign-in started by a signed-in user to link an identity to their account.
ALTER TABLE oauth_states ADD COLUMN link_user_id TEXT;
