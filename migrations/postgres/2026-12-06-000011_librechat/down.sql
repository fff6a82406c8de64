ALTER TABLE sessions DROP COLUMN provider;
DROP INDEX users_legacy_id;
ALTER TABLE users DROP COLUMN legacy_id;
ALTER TABLE users DROP COLUMN username;
