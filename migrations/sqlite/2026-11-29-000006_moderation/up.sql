-- Bans of a user or an IP, made by an admin or by violation scores.
CREATE TABLE bans (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    ip TEXT,
    reason TEXT,
    -- Who banned: an admin's id, or NULL for the violation scores.
    created_by TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    lifted_at TIMESTAMP
);
CREATE INDEX bans_ip ON bans (ip, expires_at);
CREATE INDEX bans_user_id ON bans (user_id, expires_at);

-- The end of the user's latest active ban, kept on the user so that every request that
-- loads the user sees it without another query.
ALTER TABLE users ADD COLUMN banned_until TIMESTAMP;

-- Fixed-window counters shared by every instance (unless they live in Redis).
CREATE TABLE rate_counters (
    key TEXT PRIMARY KEY NOT NULL,
    count INTEGER NOT NULL,
    window_end TIMESTAMP NOT NULL
);
CREATE INDEX rate_counters_window_end ON rate_counters (window_end);
