ALTER TABLE oauth_states DROP COLUMN link_user_id;
ALTER TABLE mfa_challenges DROP COLUMN pending;
ALTER TABLE sessions DROP COLUMN amr;
ALTER TABLE sessions DROP COLUMN auth_time;
