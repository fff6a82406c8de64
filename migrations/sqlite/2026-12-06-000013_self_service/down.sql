ALTER TABLE one_time_tokens DROP COLUMN session_id;
DROP TABLE known_devices;
