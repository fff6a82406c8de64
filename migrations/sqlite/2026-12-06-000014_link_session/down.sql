ALTER TABLE oauth_states DROP COLUMN link_session_id;
