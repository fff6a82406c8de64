-- The devices an account signed in from: a sign-in from one not seen lately mails the
-- owner. A device is a keyed hash of the browser family and OS its user agent names and
-- of its network (IPv4 /24, IPv6 /64); nothing here reads back to an address.
CREATE TABLE known_devices (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device TEXT NOT NULL,
    first_seen_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, device)
);

-- A new-device notice's link names the session it reports.
ALTER TABLE one_time_tokens ADD COLUMN session_id TEXT;
