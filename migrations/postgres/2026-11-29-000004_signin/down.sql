ALTER TABLE one_time_tokens DROP COLUMN password_hash;
