-- A link intent names the session that asked for it: the link is made only while that
-- session lives.
ALTER TABLE oauth_states ADD COLUMN link_session_id TEXT;
