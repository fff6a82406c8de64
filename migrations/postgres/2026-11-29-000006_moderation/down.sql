DROP TABLE rate_counters;
ALTER TABLE users DROP COLUMN banned_until;
DROP TABLE bans;
